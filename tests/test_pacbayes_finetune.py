"""The stochastic last layer + head behind the fine-tuning certificate, on a tiny random BERT."""
import math

import numpy as np
import pytest
import torch

from tamer_lab.models import tiny_bert
from tamer_lab.theory import pacbayes_finetune as pf


@pytest.fixture(scope="module")
def tiny():
    model = tiny_bert(seed=0).eval()
    enc = model.encoder
    torch.manual_seed(1)
    ids = torch.randint(5, 60, (6, 9))
    mask = torch.ones_like(ids)
    mask[3:, 6:] = 0  # three sentences padded after 6 tokens
    with torch.no_grad():
        out = enc(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    return enc, out.hidden_states[-2], mask.bool(), out.last_hidden_state


def _top(enc, **kw):
    return pf.StochasticTop.from_encoder(enc, **kw)


def test_mean_network_equals_the_hugging_face_layer(tiny):
    enc, states, mask, last = tiny
    with torch.no_grad():
        ours = _top(enc).last_hidden(states, mask)
    diff = ((ours - last) * mask.unsqueeze(-1)).abs().max()
    assert diff < 1e-5


def test_kl_is_zero_at_the_prior_and_matches_torch_distributions(tiny):
    enc = tiny[0]
    top = _top(enc, sigma_body=0.01, sigma_head=0.1)
    assert top.kl(0.01, 0.1).item() == pytest.approx(0.0, abs=1e-9)
    with torch.no_grad():
        for p in top.mu.values():
            p.add_(0.003 * torch.randn_like(p))
        top.log_sigma["query__weight"].fill_(math.log(0.02))
    ours = top.kl(0.05, 0.3).item()
    ref = 0.0
    centre = top.centre()
    for name in top.names:
        s = 0.3 if name.startswith("head.") else 0.05
        q = torch.distributions.Normal(top.mean(name).detach().double(), top.sigma(name).detach().double())
        p = torch.distributions.Normal(centre[name].double(), torch.tensor(s, dtype=torch.float64))
        ref += float(torch.distributions.kl_divergence(q, p).sum())
    assert ours == pytest.approx(ref, rel=1e-6)


def test_kl_grows_when_the_prior_moves_to_a_random_initialisation(tiny):
    top = _top(tiny[0], sigma_body=0.01, sigma_head=0.1)
    rand = pf.random_init_centre(top.centre())
    assert top.kl(0.01, 0.1).item() == pytest.approx(0.0, abs=1e-6)
    assert top.kl(0.01, 0.1, rand).item() > 1000
    assert set(rand) == set(top.names)
    assert torch.equal(rand["head.weight"], torch.zeros_like(rand["head.weight"]))


def test_per_example_draws_have_the_law_of_a_sampled_network(tiny):
    """One sentence repeated: per-example draws (Gram square root) and explicit network samples agree."""
    enc, states, mask, _ = tiny
    top = _top(enc, sigma_body=0.05, sigma_head=0.5)
    with torch.no_grad():
        top.mean("head.weight").copy_(torch.randn_like(top.mean("head.weight")))
        reps = 1000
        x, m = states[3:4].expand(reps, -1, -1).contiguous(), mask[3:4].expand(reps, -1).contiguous()
        torch.manual_seed(0)
        fast = top(x, m, sample="per_example")
        slow = torch.cat([top(states[3:4], mask[3:4], sample="shared") for _ in range(reps)])
    for a, b in ((fast.mean(0), slow.mean(0)), (fast.std(0), slow.std(0))):
        se = slow.std(0) / math.sqrt(reps)
        assert ((a - b).abs() < 5 * math.sqrt(2) * se + 1e-3).all(), (a, b)
    assert fast.std(0).min() > 0.05  # the noise is really there


def test_sqrt_gram_factorises_the_gram_matrix():
    x = torch.randn(4, 7, 3)  # rank 3 < T = 7: a singular Gram matrix
    a = pf._sqrt_gram(x)
    assert torch.allclose(a @ a.transpose(1, 2), x @ x.transpose(1, 2), atol=1e-4)


def test_training_lowers_the_objective_and_the_certificate_is_consistent(tiny):
    torch.manual_seed(0)
    enc = tiny_bert(seed=0).encoder.eval()
    n = 96
    states = torch.randn(n, 8, 32)
    labels = (states[:, :, 0].mean(1) > 0).long()
    data = pf.TopLayerInputs(states.half(), torch.full((n,), 8))
    top = _top(enc)
    hist = pf.train_posterior(top, data, labels, pf.PBBConfig(steps=60, batch_size=32, lr_body=1e-3), progress=False)
    assert hist[-1]["objective"] < hist[0]["objective"]
    cert = pf.certify(top, data, labels, data, labels, prior_body=0.01, prior_head=0.1)
    assert 0 <= cert.train_error_mc <= cert.train_error_bound <= cert.bound <= 1
    assert cert.bound <= cert.bound_random_prior
    assert cert.kl < cert.kl_random_prior
    errs = pf.stochastic_errors(top, data, labels, sample="mean")
    assert errs.dtype == np.bool_ and errs.shape == (n,)


def test_bad_input_gets_clear_errors(tiny):
    enc, states, mask, _ = tiny
    top = _top(enc)
    with pytest.raises(ValueError, match="sample must be"):
        top(states, mask, sample="twice")
    with pytest.raises(ValueError, match="prior scales"):
        top.kl(0.0, 1.0)
    with pytest.raises(ValueError, match="steps"):
        pf.PBBConfig(steps=0)
    with pytest.raises(ValueError, match="delta"):
        pf.PBBConfig(delta=1.5)
    data = pf.TopLayerInputs(states.half(), mask.sum(1))
    with pytest.raises(ValueError, match="labels must have shape"):
        pf.train_posterior(top, data, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one text"):
        pf.top_layer_inputs([])
