"""The demo model's vision calibration: merger outputs at zero mean and text-embedding scale."""

from __future__ import annotations

import pytest
import torch

from g2rpo.data.synth import generate_sample
from g2rpo.demo.model import build_demo_model, calibrate_vision, vision_features
from g2rpo.models import load_model_and_processor


def test_calibration_centres_and_scales_every_merger(tmp_path):
    images = [generate_sample(0, "calibration", i).image for i in range(12)]
    path = build_demo_model(tmp_path / "m", hidden_size=64, num_layers=1, calibration_images=images)
    model, processor = load_model_and_processor(str(path))  # the saved checkpoint carries the calibration
    target = model.get_input_embeddings().weight.detach().pow(2).mean().sqrt()
    feats = vision_features(model, processor.image_processor, images)
    assert len(feats) == 2  # the main merger and one DeepStack merger
    for out in feats:
        centred = out - out.mean(0)
        assert out.mean(0).abs().max() < 1e-4  # zero mean per channel over the calibration images
        assert centred.pow(2).mean().sqrt() == pytest.approx(float(target), rel=1e-3)


def test_uncalibrated_output_is_mostly_image_independent(tmp_path):
    """What calibration removes: most of a random tower's output energy is the same for every image."""
    images = [generate_sample(0, "calibration", i).image for i in range(12)]
    model, processor = load_model_and_processor(str(build_demo_model(tmp_path / "m", num_layers=1)))
    before = calibrate_vision(model, processor.image_processor, images)["image_independent_before"]
    main = vision_features(model, processor.image_processor, images)[0].reshape(12, -1, 64)
    after = float(main.mean(0).pow(2).sum() * 12 / main.pow(2).sum())
    assert before > 0.5 and after < before / 2
    assert torch.isfinite(main).all()
