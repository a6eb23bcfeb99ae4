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


def test_rope_theta_sets_the_decoders_rotary_frequencies(tmp_path):
    """Base b at head width 16: frequency i of 8 is b^(-i/8) rad per position. In interleaved M-RoPE the image
    column takes frequencies 2 and 5: 10^(-1/4) ≈ 0.562 and 10^(-5/8) ≈ 0.237 at base 10, 5e6^(-1/4) ≈ 0.021
    at the checkpoints' base."""
    from transformers import AutoModelForImageTextToText

    path = build_demo_model(tmp_path / "m", num_layers=1, rope_theta=10.0)
    model = AutoModelForImageTextToText.from_pretrained(path)
    assert model.config.text_config.rope_parameters["rope_theta"] == 10.0
    assert model.config.text_config.rope_parameters["mrope_section"] == [4, 2, 2]
    inv_freq = model.model.language_model.rotary_emb.inv_freq
    assert inv_freq.tolist() == pytest.approx([10 ** (-i / 8) for i in range(8)], rel=1e-6)
    assert inv_freq[2] == pytest.approx(0.5623, abs=1e-4) and inv_freq[5] == pytest.approx(0.2371, abs=1e-4)
    default = AutoModelForImageTextToText.from_pretrained(build_demo_model(tmp_path / "d", num_layers=1))
    assert default.model.language_model.rotary_emb.inv_freq[2] == pytest.approx(5e6**-0.25, rel=1e-5)
    with pytest.raises(ValueError, match="rope_theta"):
        build_demo_model(tmp_path / "bad", rope_theta=1.0)
