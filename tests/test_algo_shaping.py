"""Length envelope (recipe §5), entropy band penalty (recipe §6) and the clipped policy loss (recipe §8)."""

from __future__ import annotations

import pytest
import torch

from g2rpo.algo import Envelope, clipped_policy_loss, entropy_band_penalty, length_score, token_entropy


def test_length_score_at_every_breakpoint():
    env = Envelope(10, 20, 30, 50)
    # below a, a, mid-rise, b, plateau, c, mid-fall, d, beyond d
    lengths = torch.tensor([0, 10, 15, 20, 25, 30, 40, 50, 51, 1000])
    expected = [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0]
    assert length_score(lengths, env).tolist() == pytest.approx(expected)
    # b == c: a triangle; just either side of the peak.
    tri = Envelope(0, 4, 4, 8)
    assert length_score(torch.tensor([2.0, 4.0, 6.0, 7.0]), tri).tolist() == pytest.approx([0.5, 1.0, 0.5, 0.25])
    assert length_score(torch.tensor([[3, 40]]), env).shape == (1, 2)


@pytest.mark.parametrize("bounds", [(1, 1, 2, 3), (0, 2, 1, 3), (0, 1, 2, 2), (0, 1, float("nan"), 3)])
def test_envelope_validation(bounds):
    with pytest.raises(ValueError, match="Envelope"):
        Envelope(*bounds)


def test_envelope_from_sequence():
    assert Envelope.from_sequence([1, 2, 3, 4]).as_list() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="4 numbers"):
        Envelope.from_sequence([1, 2, 3])


def test_entropy_penalty_values_and_absent_tasks():
    h = torch.tensor([[0.1, 0.1, 9.0], [1.0, 0.8, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    # Task 0 mean 0.1 (below [0.2, 0.6] by 0.1), task 1 mean 0.9 (above by 0.3); task 2 is absent.
    bands = {0: (0.2, 0.6), 1: (0.2, 0.6), 2: (0.0, 0.01)}
    penalty = entropy_band_penalty(h, mask, torch.tensor([0, 1]), bands)
    assert penalty.item() == pytest.approx(0.1 + 0.3)
    inside = entropy_band_penalty(torch.full((2, 3), 0.4), mask, ["math", "ocr"], {"math": (0.2, 0.6), "ocr": (0.2, 0.6)})
    assert inside.item() == 0.0
    with pytest.raises(KeyError, match="no entropy band"):
        entropy_band_penalty(h, mask, torch.tensor([0, 5]), bands)


@pytest.mark.parametrize(("start", "direction"), [(0.05, +1), (1.5, -1)])
def test_entropy_penalty_gradient_pushes_back_into_band(start, direction):
    h = torch.full((3, 4), start, requires_grad=True)
    mask = torch.ones(3, 4)
    mask[2, 2:] = 0
    band = {"chart": (0.2, 0.6)}
    penalty = entropy_band_penalty(h, mask, ["chart"] * 3, band)
    penalty.backward()
    # A gradient-descent step moves every real token's entropy toward the band; masked tokens get no gradient.
    assert torch.all(-h.grad[mask.bool()] * direction > 0)
    assert torch.all(h.grad[~mask.bool()] == 0)
    stepped = (h - 0.5 * h.grad).detach()
    assert entropy_band_penalty(stepped, mask, ["chart"] * 3, band) < penalty


def test_token_entropy_exact():
    # Uniform over 4 → log 4; a one-hot-like distribution → ~0.
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]]])
    assert token_entropy(logits).tolist()[0] == pytest.approx([1.386294, 0.0], abs=1e-5)


def _ratios_to_logp(ratios):
    old = torch.zeros(len(ratios), len(ratios[0]))
    return torch.log(torch.tensor(ratios)).requires_grad_(True), old


def test_clipped_policy_loss_hand_example():
    # Response 0 (A = +1), ratios 1.5 and 0.9; response 1 (A = −1), ratios 0.5 and 4.0; ε_low 0.2, ε_high 0.3, c 3.
    #  r0 t0: min(1.5, clip→1.3)·1 = 1.3 → loss −1.3 (high clip active, no gradient)
    #  r0 t1: min(0.9, 0.9) = 0.9 → loss −0.9 (gradient −ρ = −0.9 per token)
    #  r1 t0: min(−0.5, −0.8) = −0.8 → loss 0.8 (low clip active, no gradient)
    #  r1 t1: min(−4, −1.3) = −4 → loss 4, dual clip: min(4, 3) = 3 (no gradient)
    # token-mean = (−1.3 − 0.9 + 0.8 + 3)/4 = 0.4; d loss / d logp[0, 1] = −0.9/4 = −0.225.
    logp, old = _ratios_to_logp([[1.5, 0.9], [0.5, 4.0]])
    adv = torch.tensor([1.0, -1.0])
    mask = torch.ones(2, 2)
    loss, stats = clipped_policy_loss(logp, old, adv, mask)
    assert loss.item() == pytest.approx(0.4)
    loss.backward()
    assert logp.grad.flatten().tolist() == pytest.approx([0.0, -0.225, 0.0, 0.0])
    assert stats.clip_high_fraction.item() == pytest.approx(0.25)
    assert stats.clip_low_fraction.item() == pytest.approx(0.25)
    assert stats.dual_clip_fraction.item() == pytest.approx(0.25)
    assert stats.ratio_mean.item() == pytest.approx((1.5 + 0.9 + 0.5 + 4.0) / 4)
    assert (stats.ratio_min.item(), stats.ratio_max.item()) == pytest.approx((0.5, 4.0))


def test_clipped_policy_loss_masking_and_sequence_mean():
    # Mask r0 t1: token-mean = (−1.3 + 0.8 + 3)/3 = 0.8333; sequence-mean = mean(−1.3, (0.8 + 3)/2) = 0.3.
    logp, old = _ratios_to_logp([[1.5, 0.9], [0.5, 4.0]])
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 0], [1, 1]])
    assert clipped_policy_loss(logp, old, adv, mask)[0].item() == pytest.approx(2.5 / 3)
    assert clipped_policy_loss(logp, old, adv, mask, aggregation="sequence-mean")[0].item() == pytest.approx(0.3)
    # A response without tokens is left out of the sequence mean; without the dual clip r1 t1 costs 4.
    empty = torch.tensor([[0, 0], [1, 1]])
    out, stats = clipped_policy_loss(logp, old, adv, empty, aggregation="sequence-mean", dual_clip=None)
    assert out.item() == pytest.approx((0.8 + 4.0) / 2)
    assert stats.dual_clip_fraction.item() == 0.0
    with pytest.raises(ValueError, match="token-mean, sequence-mean"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="sum")
    with pytest.raises(ValueError, match="dual_clip"):
        clipped_policy_loss(logp, old, adv, mask, dual_clip=0.5)
