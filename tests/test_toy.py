"""Synthetic tasks: shapes, dtypes, determinism, class balance, and the manifold's intrinsic dimension."""
import numpy as np
import pytest
import torch

from tamer_lab.data.toy import gaussian_mixture, gaussian_mixture_means, manifold, teacher_student, two_moons

CLASSIFIERS = [
    (two_moons, {}),
    (gaussian_mixture, {"dim": 3, "n_classes": 4}),
    (teacher_student, {"dim": 5, "n_classes": 3}),
]


@pytest.mark.parametrize("make, kw", CLASSIFIERS)
def test_shapes_dtypes_and_determinism(make, kw):
    X, y = make(101, seed=4, **kw)
    dim = kw.get("dim", 2)
    assert X.shape == (101, dim) and X.dtype == torch.float32
    assert y.shape == (101,) and y.dtype == torch.int64
    assert torch.isfinite(X).all()
    X2, y2 = make(101, seed=4, **kw)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = make(101, seed=5, **kw)
    assert not torch.equal(X, X3)
    assert make(1, seed=0, **kw)[0].shape == (1, dim)


@pytest.mark.parametrize("make, kw", CLASSIFIERS[:2])
def test_exact_class_balance(make, kw):
    k = kw.get("n_classes", 2)
    counts = torch.bincount(make(103, **kw)[1], minlength=k)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103


def test_two_moons_shape_of_the_moons():
    X, y = two_moons(2000, noise=0.0)
    upper, lower = X[y == 0].double(), X[y == 1].double()
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper), dtype=torch.float64), atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    centre = torch.tensor([1.0, 0.5], dtype=torch.float64)
    assert torch.allclose((lower - centre).norm(dim=1), torch.ones(len(lower), dtype=torch.float64), atol=1e-6)


def test_gaussian_mixture_means_and_covariance():
    m = gaussian_mixture_means(4, 3, 2.5)
    dist = np.linalg.norm(m[:, None] - m[None], axis=2)
    np.testing.assert_allclose(dist[~np.eye(3, dtype=bool)], 2.5)
    np.testing.assert_allclose(m.mean(axis=0), 0.0, atol=1e-12)
    m2 = gaussian_mixture_means(2, 2, 2.0)
    np.testing.assert_allclose(np.sort(m2[:, 0]), [-1.0, 1.0])
    np.testing.assert_allclose(m2[:, 1], 0.0, atol=1e-12)
    # too few dimensions for a simplex: nearest neighbours are `separation` apart
    m5 = gaussian_mixture_means(2, 5, 2.0)
    d5 = np.linalg.norm(m5[:, None] - m5[None], axis=2)
    assert d5[~np.eye(5, dtype=bool)].min() == pytest.approx(2.0)
    X, y = gaussian_mixture(4000, dim=4, n_classes=3, separation=2.5, seed=1)
    for k in range(3):
        Xk = X[y == k].double().numpy()
        np.testing.assert_allclose(Xk.mean(axis=0), m[k], atol=0.1)
        np.testing.assert_allclose(np.cov(Xk.T), np.eye(4), atol=0.12)


def test_teacher_student_shares_teacher_across_seeds_and_is_roughly_balanced():
    X_train, y_train = teacher_student(3000, dim=6, n_classes=3, seed=0, teacher_seed=7)
    X_test, y_test = teacher_student(3000, dim=6, n_classes=3, seed=1, teacher_seed=7)
    # Same teacher: a nearest-neighbour student trained on one sample predicts the other well.
    d = torch.cdist(X_test[:500], X_train)
    agree = (y_train[d.argmin(dim=1)] == y_test[:500]).float().mean()
    assert agree > 0.7
    freq = torch.bincount(y_train, minlength=3).float() / 3000
    assert freq.min() > 0.2
    _, y_other = teacher_student(3000, dim=6, n_classes=3, seed=0, teacher_seed=8)
    assert not torch.equal(y_train, y_other)
    assert torch.equal(teacher_student(50, teacher_seed=None)[1], teacher_student(50, teacher_seed=0)[1])


def test_teacher_student_label_noise():
    X, clean = teacher_student(4000, seed=2, label_noise=0.0)
    X_noisy, noisy = teacher_student(4000, seed=2, label_noise=0.3)
    assert torch.equal(X, X_noisy)  # noise touches labels only
    assert (noisy != clean).float().mean().item() == pytest.approx(0.3, abs=0.03)
    _, noisy5 = teacher_student(4000, n_classes=5, seed=2, label_noise=0.3)
    _, clean5 = teacher_student(4000, n_classes=5, seed=2)
    assert (noisy5 != clean5).float().mean().item() == pytest.approx(0.3, abs=0.03)  # flips always change the class


def test_manifold_outputs_and_target():
    X, y, t = manifold(200, intrinsic_dim=2, ambient_dim=16, seed=3)
    assert X.shape == (200, 16) and y.shape == (200,) and t.shape == (200, 2)
    assert X.dtype == y.dtype == t.dtype == torch.float32
    td = t.double()
    f = torch.sin(td + torch.arange(2)).mean(dim=1) + 0.5 * torch.cos(td).prod(dim=1)
    assert torch.allclose(y.double(), f, atol=1e-6)
    _, y_noisy, t2 = manifold(200, intrinsic_dim=2, ambient_dim=16, seed=3, noise=0.5)
    assert torch.equal(t, t2) and (y_noisy - y).std() == pytest.approx(0.5, abs=0.1)
    X_other_seed, _, _ = manifold(200, intrinsic_dim=2, ambient_dim=16, seed=4)
    assert not torch.equal(X, X_other_seed)


@pytest.mark.parametrize("d, D", [(1, 16), (2, 16), (3, 8)])
def test_manifold_intrinsic_dimension_by_local_pca(d, D):
    X, _, _ = manifold(3000, intrinsic_dim=d, ambient_dim=D, seed=0)
    X = X.double()
    centres = X[:20]
    neighbours = torch.cdist(centres, X).topk(40, largest=False).indices
    ratios = []
    for idx in neighbours:
        local = X[idx] - X[idx].mean(dim=0)
        s = torch.linalg.svdvals(local)
        ratios.append((s[d] / s[d - 1]).item())  # the (d+1)-th direction is only curvature
        assert s[d - 1] > 0
    assert np.median(ratios) < 0.35
    # the whole cloud spans more than d directions (it is curved), but no more than the feature count
    s_all = torch.linalg.svdvals(X - X.mean(dim=0))
    n_features = 4 * d if D >= 4 * d else 2 * d
    assert (s_all > 1e-4 * s_all[0]).sum().item() == n_features


def test_manifold_same_embedding_across_seeds():
    # X is a fixed linear map of the features (cos t, sin t, cos 2t / 2, sin 2t / 2): learn it from one
    # seed and it reproduces another seed's points; a different embedding_seed gives another map.
    def features(t):
        return torch.cat([torch.cos(t), torch.sin(t), 0.5 * torch.cos(2 * t), 0.5 * torch.sin(2 * t)], dim=1).double()

    X0, _, t0 = manifold(200, intrinsic_dim=2, seed=0)
    X1, _, t1 = manifold(200, intrinsic_dim=2, seed=1)
    X2, _, t2 = manifold(200, intrinsic_dim=2, seed=1, embedding_seed=1)
    A = torch.linalg.lstsq(features(t0), X0.double()).solution
    assert torch.allclose(features(t1) @ A, X1.double(), atol=1e-5)
    assert not torch.allclose(features(t2) @ A, X2.double(), atol=1e-2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: two_moons(0), "n must be an integer >= 1"),
        (lambda: two_moons(10, noise=-1.0), "noise"),
        (lambda: two_moons(10, seed=-1), "seed"),
        (lambda: gaussian_mixture(10, n_classes=1), "n_classes"),
        (lambda: gaussian_mixture(10, separation=0.0), "separation"),
        (lambda: teacher_student(10, label_noise=1.0), "label_noise"),
        (lambda: teacher_student(10, hidden=0), "hidden"),
        (lambda: teacher_student(2.5), "n must be an integer"),
        (lambda: manifold(10, intrinsic_dim=3, ambient_dim=5), r"ambient_dim must be at least 2 \* intrinsic_dim = 6"),
        (lambda: manifold(10, embedding_seed=-2), "embedding_seed"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
