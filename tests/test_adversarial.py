"""Adversarial regularization hooks: constraints, ascent, EMA teacher, gradients, loops, errors."""
import copy

import pytest
import torch
import torch.nn.functional as F

from tamer_lab import Hook, finetune, seed_everything
from tamer_lab.adversarial import L2SP, R3F, SMART, VAT, BregmanProximal, FreeLB, squared_error, symmetric_kl
from tamer_lab.adversarial._inputs import perturbable
from tamer_lab.data import DictDataset, collate, tokenize
from tamer_lab.data.toy import gaussian_mixture
from tamer_lab.models import MLP, tiny_bert, tiny_tokenizer

TEXTS = ["a great fun film", "good movie", "awful boring plot", "bad dull story", "not very good", "the plot was fun"]


def toy_data(n=32, seed=0):
    x, y = gaussian_mixture(n, dim=4, separation=3.0, seed=seed)
    return DictDataset(x=x, labels=y)


def text_data():
    return tokenize(tiny_tokenizer(), TEXTS * 2, [1, 1, 0, 0, 0, 1] * 2, max_length=16)


def text_batch():
    return collate([text_data()[i] for i in range(6)])


def toy_model(seed=0, out=2):
    torch.manual_seed(seed)
    return MLP(4, out, hidden=(16,))


METHODS = {
    "smart": lambda: SMART(),
    "smart_normalize_linf": lambda: SMART(projection="normalize", norm="linf", steps=2),
    "bregman": lambda: BregmanProximal(),
    "smart+bregman": lambda: [SMART(eps=1e-3), BregmanProximal()],
    "r3f": lambda: R3F(noise="normal"),
    "freelb": lambda: FreeLB(steps=2, max_norm=0.5),
    "vat": lambda: VAT(eps=0.1, xi=1e-3),
    "l2sp": lambda: L2SP(),
}


def hooks_of(name):
    made = METHODS[name]()
    return made if isinstance(made, list) else [made]


# symmetric KL ------------------------------------------------------------------------------------------------

def test_symmetric_kl_is_symmetric_nonnegative_and_zero_exactly_on_agreement():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(50, 5, generator=g), torch.randn(50, 5, generator=g)
    per = symmetric_kl(p, q, reduction="none")
    assert torch.allclose(per, symmetric_kl(q, p, reduction="none"))
    assert (per > 0).all()
    assert symmetric_kl(p, p).item() == 0.0
    assert symmetric_kl(p, p + 3.0).abs().item() < 1e-6  # same distributions, shifted logits
    lp, lq = F.log_softmax(p, -1), F.log_softmax(q, -1)
    two_kls = F.kl_div(lq, lp, log_target=True, reduction="batchmean") + F.kl_div(lp, lq, log_target=True,
                                                                                   reduction="batchmean")
    assert torch.allclose(symmetric_kl(p, q), two_kls, atol=1e-6)
    assert squared_error(p, p).item() == 0.0 and squared_error(p, q).item() > 0


# SMART: the constraint in each projection mode ----------------------------------------------------------------

def smart_delta(smart, model, batch, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        logits = perturbable(model, batch)()
    return smart.perturbation(model, batch, logits)


@pytest.mark.parametrize("text", [False, True], ids=["mlp", "tiny_bert"])
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_smart_ball_projection_keeps_delta_in_the_eps_ball(text, norm):
    model, batch = (tiny_bert(), text_batch()) if text else (toy_model(), toy_data()[:16])
    eps = 1e-3
    delta = smart_delta(SMART(eps=eps, sigma=1e-3, step_size=1e-2, steps=3, norm=norm), model, batch)
    flat = delta.flatten(1)
    size = flat.norm(dim=1) if norm == "l2" else flat.abs().amax(dim=1)
    assert (size <= eps * (1 + 1e-5)).all()
    assert (size >= 0.5 * eps).all()  # the step (10 ε) reaches the boundary
    if text:
        assert (delta[batch["attention_mask"] == 0] == 0).all()  # padding is never perturbed


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_smart_normalize_mode_gives_unit_norm_per_token_like_mt_dnn(norm):
    batch = text_batch()
    delta = smart_delta(SMART(projection="normalize", norm=norm, steps=2), tiny_bert(), batch)
    sizes = delta.norm(dim=-1) if norm == "l2" else delta.abs().amax(dim=-1)
    real = batch["attention_mask"] == 1
    assert (sizes <= 1).all()
    assert (sizes[real] > 1 - 1e-3).all()  # (δ + ηg)/(‖δ + ηg‖ + 1e-6) has norm just below 1
    assert (sizes[~real] == 0).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_smart_ascent_increases_the_divergence_over_the_initial_noise(norm):
    model, batch = toy_model(out=3), toy_data(64)[:]
    eps = 0.2
    smart = SMART(eps=eps, sigma=0.02, step_size=0.2, steps=1, norm=norm)
    with torch.no_grad():
        clean = model(batch["x"])
    gains, over_random = [], []
    for seed in range(5):
        torch.manual_seed(seed)
        start = smart.initial_noise(perturbable(model, batch))
        delta = smart_delta(smart, model, batch, seed=seed)  # same seed: same initial noise
        rand = torch.randn_like(delta)
        rand = rand * eps / (rand.norm(dim=1, keepdim=True) if norm == "l2" else rand.abs().amax(1, keepdim=True))
        with torch.no_grad():
            kl = [symmetric_kl(model(batch["x"] + d), clean).item() for d in (start, delta, smart.project(rand))]
        gains.append(kl[1] - kl[0])
        over_random.append(kl[1] - kl[2])
    assert sum(gains) / 5 > 0 and min(gains) > 0
    assert sum(over_random) / 5 > 0  # better than a random point on the same ball's boundary


def test_smart_penalty_reaches_the_parameters_through_both_sides():
    model, batch = toy_model(), toy_data()[:16]
    smart = SMART(eps=0.1, sigma=0.01, step_size=0.1)

    def grads(detach_clean):
        model.zero_grad()
        torch.manual_seed(0)
        logits = model(batch["x"])
        smart.penalty(model, batch, logits.detach() if detach_clean else logits).backward()
        return [p.grad.clone() for p in model.parameters()]

    both, adv_only = grads(False), grads(True)
    assert all(g.abs().sum() > 0 for g in both)
    assert not all(torch.allclose(a, b) for a, b in zip(both, adv_only))


def test_smart_mse_for_regression():
    model, batch = toy_model(out=1), {"x": torch.randn(8, 4)}
    logits = model(batch["x"])
    pen = SMART(eps=0.1, sigma=0.01, loss="mse").penalty(model, batch, logits)
    pen.backward()
    assert pen.item() > 0 and model.net[0].weight.grad.abs().sum() > 0


# Bregman proximal point: the teacher is the EMA of the student ------------------------------------------------

def test_bregman_teacher_is_exactly_the_ema_with_the_beta_switch():
    model, batch = toy_model(), toy_data()[:16]
    breg = BregmanProximal(mu=1.0, beta=0.9, beta_after=0.5, switch_fraction=0.25, total_steps=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    breg.setup(model, opt)
    ref = [p.detach().clone() for p in model.parameters()]
    assert all(torch.equal(t, r) for t, r in zip(breg.teacher.parameters(), ref))
    betas = []
    for step in range(6):
        logits = model(batch["x"])
        (F.cross_entropy(logits, batch["labels"]) + breg.penalty(model, batch, logits)).backward()
        opt.step()
        beta = breg.current_beta()
        betas.append(beta)
        breg.after_step(model, step)
        opt.zero_grad()
        ref = [r.mul(beta).add(p.detach(), alpha=1 - beta) for r, p in zip(ref, model.parameters())]
        assert all(torch.equal(t, r) for t, r in zip(breg.teacher.parameters(), ref))
    assert betas == [0.9, 0.9, 0.5, 0.5, 0.5, 0.5]  # 25% of 8 updates use beta
    assert not any(torch.equal(t, p) for t, p in zip(breg.teacher.parameters(), model.parameters()))
    assert all(not t.requires_grad for t in breg.teacher.parameters())


def test_bregman_penalty_is_zero_at_the_start_and_pulls_the_student_only():
    model, batch = toy_model(), toy_data()[:16]
    breg = BregmanProximal(beta=0.99, beta_after=0.99)
    breg.setup(model)
    assert breg.penalty(model, batch, model(batch["x"])).item() == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    pen = breg.penalty(model, batch, model(batch["x"]))
    pen.backward()
    assert pen.item() > 0
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(t.grad is None for t in breg.teacher.parameters())


def test_finetune_passes_total_steps_to_bregman():
    breg = BregmanProximal()
    res = finetune(toy_model(), toy_data(), hooks=[breg], epochs=1, batch_size=8, progress=False)
    assert breg.total_steps == res.steps == 4 and breg.updates == 4


# R3F, FreeLB, VAT, L2-SP ---------------------------------------------------------------------------------------

def test_r3f_penalty_is_small_noise_stability_with_gradients_on_both_sides():
    model, batch = toy_model(), toy_data()[:16]
    for noise in ("uniform", "normal"):
        logits = model(batch["x"])
        pen = R3F(sigma=0.1, noise=noise).penalty(model, batch, logits)
        model.zero_grad()
        pen.backward()
        assert 0 < pen.item() < 0.1
        assert all(p.grad.abs().sum() > 0 for p in model.parameters())


def test_freelb_with_one_step_from_zero_is_plain_training_and_the_loop_skips_the_clean_loss():
    kw = dict(epochs=1, batch_size=8, lr=1e-2, progress=False)
    plain, adv = toy_model(), toy_model()
    finetune(plain, toy_data(), **kw)
    res = finetune(adv, toy_data(), hooks=[FreeLB(steps=1, init_mag=0.0)], **kw)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain.state_dict().values(), adv.state_dict().values()))
    assert res.history[0]["train_loss"] > 0


def test_freelb_accumulates_the_mean_gradient_of_its_k_passes():
    model, batch = toy_model(), toy_data()[:16]
    freelb = FreeLB(steps=3, adv_lr=0.5, init_mag=0.3, max_norm=0.4)
    torch.manual_seed(0)
    loss = freelb.backward(model, batch)
    got = [p.grad.clone() for p in model.parameters()]
    # redo the K passes by hand with the same random start
    model.zero_grad()
    torch.manual_seed(0)
    delta = freelb.initial_delta(batch["x"], torch.ones(16, 1))
    ref_loss, ref = 0.0, [torch.zeros_like(p) for p in model.parameters()]
    for k in range(3):
        delta.requires_grad_(True)
        lk = F.cross_entropy(model(batch["x"] + delta), batch["labels"])
        gs = torch.autograd.grad(lk, [delta, *model.parameters()])
        ref = [r + g / 3 for r, g in zip(ref, gs[1:])]
        ref_loss += lk.item() / 3
        delta = freelb.ascent_step(delta.detach(), gs[0])
        assert (delta.norm(dim=1) <= 0.4 + 1e-6).all()
    assert abs(loss.item() - ref_loss) < 1e-5
    assert all(torch.allclose(g, r, atol=1e-6) for g, r in zip(got, ref))


def test_vat_direction_has_radius_eps_and_beats_a_random_direction():
    model, batch = toy_model(out=3), toy_data(64)[:]
    vat = VAT(eps=0.3, xi=1e-3, iterations=2)
    with torch.no_grad():
        clean = model(batch["x"])
    wins = 0.0
    for seed in range(5):
        torch.manual_seed(seed)
        r = vat.adversarial_direction(model, batch, clean)
        assert torch.allclose(r.norm(dim=1), torch.full((64,), 0.3), atol=1e-5)
        rand = torch.randn_like(r)
        rand = 0.3 * rand / rand.norm(dim=1, keepdim=True)
        with torch.no_grad():
            wins += (symmetric_kl(model(batch["x"] + r), clean) - symmetric_kl(model(batch["x"] + rand), clean)).item()
    assert wins > 0


def test_vat_uses_unlabelled_batches_and_says_when_they_run_out():
    model, batch = toy_model(), toy_data()[:8]
    unlabeled = [{"x": torch.randn(8, 4)} for _ in range(2)]
    vat = VAT(eps=0.1, xi=1e-3, unlabeled=unlabeled)
    pens = [vat.penalty(model, batch, model(batch["x"])) for _ in range(3)]  # wraps around the list
    assert all(p.item() > 0 for p in pens)
    with pytest.raises(ValueError, match="re-iterable"):
        one_shot = VAT(eps=0.1, unlabeled=iter(unlabeled[:1]))
        for _ in range(2):
            one_shot.penalty(model, batch)


def test_l2sp_penalty_measures_distance_to_the_start_and_head_norm():
    model = tiny_bert()
    l2sp = L2SP(alpha=0.2, beta=0.04)
    l2sp.setup(model)
    head = sum(float((p.detach() ** 2).sum()) for n, p in model.named_parameters() if n.startswith("head."))
    assert abs(l2sp.penalty(model).item() - 0.02 * head) < 1e-5
    with torch.no_grad():
        model.encoder.embeddings.word_embeddings.weight[3].add_(1.0)  # a distance of √hidden from the start
    assert abs(l2sp.penalty(model).item() - 0.02 * head - 0.1 * 32) < 1e-3


# every method through finetune and in a plain loop -------------------------------------------------------------

@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_runs_in_finetune_on_tiny_bert_and_mlp(name):
    seed_everything(0)
    res = finetune(tiny_bert(), text_data(), hooks=hooks_of(name), max_steps=2, batch_size=6, lr=1e-3,
                   progress=False)
    assert res.steps == 2 and torch.isfinite(torch.tensor(res.history[-1]["train_loss"]))
    res = finetune(toy_model(), toy_data(), hooks=hooks_of(name), max_steps=2, batch_size=8, progress=False)
    assert res.steps == 2 and torch.isfinite(torch.tensor(res.history[-1]["train_loss"]))


def test_methods_run_under_bf16_autocast():
    for name in ("smart+bregman", "freelb", "vat"):
        res = finetune(tiny_bert(), text_data(), hooks=hooks_of(name), max_steps=2, batch_size=6, precision="bf16",
                       progress=False)
        assert torch.isfinite(torch.tensor(res.history[-1]["train_loss"]))


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("text", [False, True], ids=["mlp", "tiny_bert"])
def test_each_method_runs_in_a_plain_loop(name, text):
    seed_everything(0)
    model, data = (tiny_bert(), text_data()) if text else (toy_model(), toy_data(16))
    start = copy.deepcopy(model.state_dict())
    hooks = hooks_of(name)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for h in hooks:
        h.setup(model, opt, total_steps=2) if isinstance(h, BregmanProximal) else h.setup(model, opt)
    for step, batch in enumerate(torch.utils.data.DataLoader(data, batch_size=8, collate_fn=collate)):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        if isinstance(hooks[0], FreeLB):
            hooks[0].backward(model, batch)
        else:
            logits = model(**inputs)
            loss = F.cross_entropy(logits, batch["labels"]) + sum(h.penalty(model, batch, logits) for h in hooks)
            loss.backward()
        opt.step()
        for h in hooks:
            h.after_step(model, step)
        opt.zero_grad()
    assert any(not torch.equal(start[k], v) for k, v in model.state_dict().items())


# the loop's extension and the errors ---------------------------------------------------------------------------

def test_at_most_one_hook_may_replace_the_task_loss():
    with pytest.raises(ValueError, match="at most one hook"):
        finetune(toy_model(), toy_data(), hooks=[FreeLB(), FreeLB()], max_steps=1, progress=False)

    class Silent(Hook):
        replaces_task_loss = True

    with pytest.raises(ValueError, match="returned None"):
        finetune(toy_model(), toy_data(), hooks=[Silent()], max_steps=1, progress=False)


@pytest.mark.parametrize("make, match", [
    (lambda: SMART(eps=-1e-5), "eps must be > 0"),
    (lambda: SMART(sigma=-1.0), "sigma must be >= 0"),
    (lambda: SMART(step_size=-1e-3), "step_size must be > 0"),
    (lambda: SMART(steps=0), "steps must be an integer >= 1"),
    (lambda: SMART(weight=-1.0), "weight must be >= 0"),
    (lambda: SMART(projection="sphere"), "projection must be one of"),
    (lambda: SMART(norm="l1"), "norm must be one of"),
    (lambda: SMART(loss="ce"), "loss must be one of"),
    (lambda: BregmanProximal(mu=-1.0), "mu must be >= 0"),
    (lambda: BregmanProximal(beta=1.0), r"beta must be in \[0, 1\)"),
    (lambda: BregmanProximal(switch_fraction=2.0), "switch_fraction"),
    (lambda: R3F(sigma=0.0), "sigma must be > 0"),
    (lambda: R3F(noise="cauchy"), "noise must be one of"),
    (lambda: R3F(weight=-1.0), "weight must be >= 0"),
    (lambda: FreeLB(steps=0), "steps must be an integer >= 1"),
    (lambda: FreeLB(adv_lr=-0.1), "adv_lr must be > 0"),
    (lambda: FreeLB(max_norm=-1.0), "max_norm must be >= 0"),
    (lambda: VAT(eps=-1.0), "eps must be > 0"),
    (lambda: VAT(iterations=0), "iterations must be an integer >= 1"),
    (lambda: L2SP(alpha=-0.1), "alpha must be >= 0"),
])
def test_bad_arguments_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_usage_errors_say_what_to_do():
    with pytest.raises(ValueError, match="total_steps"):
        BregmanProximal().setup(toy_model())
    with pytest.raises(ValueError, match="call setup"):
        BregmanProximal(total_steps=3).penalty(toy_model(), {"x": torch.zeros(2, 4)}, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="input_ids .* or x"):
        SMART().penalty(toy_model(), {"features": torch.zeros(2, 4)}, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="no embed"):
        SMART().penalty(toy_model(), {"input_ids": torch.zeros(2, 4, dtype=torch.long)}, torch.zeros(2, 2))


def test_l2sp_add_gradient_equals_the_gradient_of_the_penalty():
    model = tiny_bert()
    l2sp = L2SP(alpha=0.3, beta=0.05)
    l2sp.setup(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.zero_grad()
    l2sp.penalty(model).backward()
    autograd = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    l2sp.add_gradient(model)  # from p.grad = None
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, autograd[n], atol=1e-7), n
    l2sp.add_gradient(model)  # it adds, it does not overwrite
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, 2 * autograd[n], atol=1e-7), n
    assert l2sp.loss(model, {}, None) is None  # as a hook it acts in after_backward only
