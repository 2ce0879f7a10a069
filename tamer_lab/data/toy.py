"""Synthetic tasks for checking theory and methods where the truth is known.

Every generator takes a ``seed`` for the sample and is deterministic given its arguments. The
distribution itself (moon shapes, mixture means, teacher network, manifold embedding) never depends
on ``seed``, so two calls with different seeds are independent samples from the same task: use one
for training and another for testing. Classes are balanced (counts differ by at most one) and the
samples are shuffled. Features are ``torch.float32``; class labels are ``torch.int64`` in
``0 .. n_classes-1``. Random numbers come from NumPy's ``default_rng``, so results do not change with
the torch version.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["two_moons", "gaussian_mixture", "gaussian_mixture_means", "teacher_student", "manifold"]


def _count(value: int, label: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _seed(value: int, label: str = "seed") -> int:
    return _count(value, label, minimum=0)


def _nonnegative(value: float, label: str) -> float:
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{label} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _balanced_labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Labels 0..K-1 with counts differing by at most one, in random order."""
    return rng.permutation(np.arange(n) % n_classes)


def _to_torch(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)


def two_moons(n: int, *, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles in the plane, with isotropic Gaussian noise of std ``noise``.

    Class 0: (cos t, sin t); class 1: (1 − cos t, 0.5 − sin t), with t ~ Uniform[0, π] drawn
    independently for each point (unlike scikit-learn's evenly spaced t), so the points are i.i.d.
    given their labels. Returns ``X`` of shape (n, 2) and ``y`` of shape (n,).
    """
    n = _count(n, "n")
    noise = _nonnegative(noise, "noise")
    rng = np.random.default_rng(_seed(seed))
    y = _balanced_labels(n, 2, rng)
    t = rng.uniform(0.0, math.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = np.where(y[:, None] == 0, upper, lower) + noise * rng.standard_normal((n, 2))
    return _to_torch(X, y)


def gaussian_mixture_means(dim: int, n_classes: int, separation: float) -> np.ndarray:
    """The class means of :func:`gaussian_mixture`, shape (n_classes, dim), centred at the origin.

    If ``dim ≥ n_classes − 1`` they are the vertices of a regular simplex: every pair is exactly
    ``separation`` apart. Otherwise (too few dimensions for a simplex) they are evenly spaced on a line
    (dim = 1) or a circle (dim ≥ 2) with nearest neighbours ``separation`` apart.
    """
    dim, k = _count(dim, "dim"), _count(n_classes, "n_classes", minimum=2)
    if not (math.isfinite(separation) and separation > 0):
        raise ValueError(f"separation must be a positive finite number, got {separation!r}.")
    means = np.zeros((k, dim))
    if dim >= k - 1:
        # e_j − e_k has length √2; the centred one-hots span a (k−1)-dim subspace, where we take coordinates.
        centred = (np.eye(k) - 1.0 / k) * (separation / math.sqrt(2.0))
        _, _, vt = np.linalg.svd(centred)
        means[:, : k - 1] = centred @ vt[: k - 1].T
    elif dim == 1:
        means[:, 0] = separation * (np.arange(k) - (k - 1) / 2)
    else:
        radius = separation / (2.0 * math.sin(math.pi / k))
        angle = 2.0 * math.pi * np.arange(k) / k
        means[:, 0], means[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    return means


def gaussian_mixture(
    n: int, *, dim: int = 2, n_classes: int = 2, separation: float = 2.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced classes ``x | y=k ~ N(μ_k, I_dim)`` with means from :func:`gaussian_mixture_means`.

    With two classes the means are ±(separation/2)·e_1 and the Bayes error is Φ(−separation/2)
    (Φ the standard normal CDF), e.g. 0.159 for separation 2. Returns ``X`` (n, dim) and ``y`` (n,).
    """
    n = _count(n, "n")
    means = gaussian_mixture_means(dim, n_classes, separation)
    rng = np.random.default_rng(_seed(seed))
    y = _balanced_labels(n, n_classes, rng)
    X = means[y] + rng.standard_normal((n, dim))
    return _to_torch(X, y)


def _teacher(dim: int, hidden: int, n_classes: int, teacher_seed: int):
    """A random one-hidden-layer ReLU network whose output biases balance the classes.

    Weights are Gaussian with variance 1/fan_in; the output biases are tuned on a reference sample of
    4096 inputs so that each class gets about 1/n_classes of the argmax decisions.
    """
    rng = np.random.default_rng(teacher_seed)
    W1 = rng.standard_normal((hidden, dim)) / math.sqrt(dim)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((n_classes, hidden)) / math.sqrt(hidden)

    def features(X: np.ndarray) -> np.ndarray:
        return np.maximum(X @ W1.T + b1, 0.0) @ W2.T

    ref = features(rng.standard_normal((4096, dim)))
    b2 = -ref.mean(axis=0)
    if n_classes == 2:  # exact balance on the reference sample: shift the logit gap to its median
        gap = ref[:, 1] - ref[:, 0]
        b2 = np.array([0.0, -float(np.median(gap))])
    else:
        scale = ref.std() + 1e-12
        for _ in range(200):  # nudge up the biases of rare classes, down those of common ones
            freq = np.bincount(np.argmax(ref + b2, axis=1), minlength=n_classes) / ref.shape[0]
            b2 -= 0.1 * scale * np.log((freq + 1e-3) * n_classes)
    return lambda X: features(X) + b2


def teacher_student(
    n: int,
    *,
    dim: int = 10,
    hidden: int = 16,
    n_classes: int = 2,
    seed: int = 0,
    teacher_seed: int | None = None,
    label_noise: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``x ~ N(0, I_dim)`` labelled by a random teacher MLP: ``y = argmax(teacher(x))``.

    The teacher is a one-hidden-layer ReLU network of width ``hidden`` drawn from ``teacher_seed``
    (``None`` means 0, a fixed default teacher): it does not depend on ``seed``, so train and test sets
    drawn with different ``seed`` share a teacher. Its output biases are set so that classes are about
    equally frequent. With ``label_noise = η`` each label is replaced, with probability η, by a
    different class chosen uniformly (symmetric noise). Unlike the other generators, class counts are
    balanced only in expectation. Returns ``X`` (n, dim) and ``y`` (n,).
    """
    n = _count(n, "n")
    dim, hidden = _count(dim, "dim"), _count(hidden, "hidden")
    n_classes = _count(n_classes, "n_classes", minimum=2)
    teacher_seed = 0 if teacher_seed is None else _seed(teacher_seed, "teacher_seed")
    if not (isinstance(label_noise, (int, float, np.floating)) and 0.0 <= label_noise < 1.0):
        raise ValueError(f"label_noise must lie in [0, 1) (a flip probability), got {label_noise!r}.")
    teacher = _teacher(dim, hidden, n_classes, teacher_seed)
    rng = np.random.default_rng(_seed(seed))
    X = rng.standard_normal((n, dim))
    y = np.argmax(teacher(X), axis=1)
    flip = rng.random(n) < label_noise
    y = np.where(flip, (y + rng.integers(1, n_classes, size=n)) % n_classes, y)
    return _to_torch(X, y)


def manifold(
    n: int,
    *,
    intrinsic_dim: int = 1,
    ambient_dim: int = 16,
    seed: int = 0,
    noise: float = 0.0,
    embedding_seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Regression on a ``d``-dimensional torus smoothly embedded in ``R^D``.

    Intrinsic coordinates ``t ~ Uniform[0, 2π)^d``. Each coordinate contributes the features
    ``(cos t_j, sin t_j, ½ cos 2t_j, ½ sin 2t_j)`` (only the first two when ``D < 4d``), a smooth
    injective map of the torus; a random matrix with orthonormal columns (from ``embedding_seed``)
    carries them into ``R^D``, so the points are a curved, rotated ``d``-manifold that no coordinate
    subspace reveals. The target is smooth on the torus,

        f(t) = (1/d) Σ_j sin(t_j + j) + ½ Π_j cos t_j,

    and ``y = f(t) + noise · ε`` with ε ~ N(0, 1) (noise on the response; X stays on the manifold).
    Returns ``X`` (n, D) float32, ``y`` (n,) float32 and ``t`` (n, d) float32.
    """
    n = _count(n, "n")
    d, D = _count(intrinsic_dim, "intrinsic_dim"), _count(ambient_dim, "ambient_dim")
    if D < 2 * d:
        raise ValueError(
            f"ambient_dim must be at least 2 * intrinsic_dim = {2 * d} to embed a {d}-torus, got {D}."
        )
    noise = _nonnegative(noise, "noise")
    harmonics = 2 if D >= 4 * d else 1
    embed_rng = np.random.default_rng(_seed(embedding_seed, "embedding_seed"))
    embed, _ = np.linalg.qr(embed_rng.standard_normal((D, 2 * harmonics * d)))  # orthonormal columns
    rng = np.random.default_rng(_seed(seed))
    t = rng.uniform(0.0, 2.0 * math.pi, size=(n, d))
    features = [np.cos(t), np.sin(t)]
    if harmonics == 2:
        features += [0.5 * np.cos(2 * t), 0.5 * np.sin(2 * t)]
    X = np.concatenate(features, axis=1) @ embed.T
    f = np.sin(t + np.arange(d)).mean(axis=1) + 0.5 * np.prod(np.cos(t), axis=1)
    y = f + noise * rng.standard_normal(n)
    return (
        torch.as_tensor(X, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.float32),
        torch.as_tensor(t, dtype=torch.float32),
    )
