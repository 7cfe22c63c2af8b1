#!/usr/bin/env python3
"""Second, forward-only oracle: plain numpy loops, written independently of losses_ref.py.

It recomputes the loss value of every fixture case from its .in.safetensors file and the params of
cases.tsv, and compares with the stored `loss` (relative 1e-10).  It deliberately takes other
routes than the torch code where the spec allows several: psi and arcface/combined through arccos
(k = floor(m theta / pi)), PML-style *ordered* pairs for contrastive, sorted lists for top-k /
argmax / argmin, DeepID2 distances through np.linalg.norm.

    crosscheck_numpy.py [FIXTURE_DIR]
"""
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "losses", "tests", "fixtures", "torch"))


def nrm(v):
    return v / np.sqrt((v * v).sum(1, keepdims=True) + 1e-12)


def lse(z):
    M = z.max()
    return M + np.log(np.exp(z - M).sum())


def get(p, key, default):
    return float(p[key]) if key in p else default


def flag(p, key, default):
    return (p[key] == "true") if key in p else default


def triplet(x, y, p):
    alpha = get(p, "alpha", 0.2)
    sq = flag(p, "squared", True)
    mining = p.get("mining", "semihard")
    red = p.get("reduction", "sum")
    f = nrm(x)
    B = len(y)
    D2 = ((f[:, None] - f[None]) ** 2).sum(-1)
    D = D2 if sq else np.sqrt(D2)
    ls = []
    if mining == "batch_hard":
        for a in range(B):
            ps = [j for j in range(B) if j != a and y[j] == y[a]]
            ns = [j for j in range(B) if y[j] != y[a]]
            if not ps or not ns:
                continue
            pp = sorted(ps, key=lambda j: (-D[a, j], j))[0]
            nn = sorted(ns, key=lambda j: (D[a, j], j))[0]
            ls.append(max(D[a, pp] - D[a, nn] + alpha, 0.0))
    else:
        for a in range(B):
            for pp in range(B):
                if pp == a or y[pp] != y[a]:
                    continue
                for n in range(B):
                    if y[n] == y[a]:
                        continue
                    if mining == "semihard" and not (0 < D[a, n] - D[a, pp] <= alpha):
                        continue
                    ls.append(max(D[a, pp] - D[a, n] + alpha, 0.0))
    ls = np.array(ls)
    if len(ls) == 0:
        return 0.0
    if red == "sum":
        return ls.sum()
    if red == "mean":
        return ls.mean()
    nz = ls[ls > 0]
    return nz.mean() if len(nz) else 0.0


def avg_nonzero(v):
    v = np.array(v)
    v = v[v > 0]
    return v.mean() if len(v) else 0.0


def contrastive(x, y, p):
    mp, mn = get(p, "m_pos", 0.0), get(p, "m_neg", 1.0)
    f = nrm(x)
    B = len(y)
    D = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    pos = [max(D[i, j] - mp, 0) for i in range(B) for j in range(B) if i != j and y[i] == y[j]]
    neg = [max(mn - D[i, j], 0) for i in range(B) for j in range(B) if i != j and y[i] != y[j]]
    return avg_nonzero(pos) + avg_nonzero(neg)


def range_loss(x, y, p):
    k = int(get(p, "k", 2))
    a, b, m = get(p, "alpha", 1e-4), get(p, "beta", 1e-3), get(p, "m", 20000.0)
    sq = flag(p, "squared", True)

    def dist(u, v):
        d2 = ((u - v) ** 2).sum()
        return d2 if sq else math.sqrt(d2)

    intra, cs = 0.0, []
    for q in sorted(set(y.tolist())):
        X = x[y == q]
        cs.append(X.mean(0))
        ds = sorted([dist(X[i], X[j]) for i in range(len(X)) for j in range(i + 1, len(X))], reverse=True)
        if ds:
            kk = min(k, len(ds))
            intra += kk / sum(1 / max(d, 1e-12) for d in ds[:kk])
    inter = 0.0
    if len(cs) > 1:
        dmin = min(dist(cs[i], cs[j]) for i in range(len(cs)) for j in range(i + 1, len(cs)))
        inter = max(m - dmin, 0.0)
    return a * intra + b * inter


def ddl(xs, xt, y, p):
    tau = get(p, "tau", 0.0)
    wp, wn, wo = get(p, "w_pos", 0.1), get(p, "w_neg", 0.02), get(p, "w_ord", 0.5)
    B = len(y)

    def branch(f):
        f = nrm(f)
        S = f @ f.T
        pos = [S[i, j] for i in range(B) for j in range(i + 1, B) if y[i] == y[j] and S[i, j] > tau]
        neg = [max([0.0] + [S[i, j] for j in range(i + 1, B) if y[j] != y[i]]) for i in range(B)]
        return np.array(pos), np.array(neg)

    def hist(s):
        t = np.arange(1000) / 1000
        h = np.exp(-((s[:, None] - t[None]) ** 2) / (2 * 0.1 ** 2)).sum(0)
        return h / h.sum()

    def kl(P, Q):
        return ((P + 1e-9) * (np.log(P + 1e-9) - np.log(Q + 1e-9))).sum()

    pt, nt = branch(xt)
    ps, ns = branch(xs)
    L = 0.0
    if len(pt) and len(ps):
        L += wp * kl(hist(pt), hist(ps))
    L += wn * kl(hist(nt), hist(ns))
    order = sum(n.mean() - q.mean() for n in (nt, ns) for q in (pt, ps) if len(q))
    return L + wo * order


def cosine_head(name, x, y, W, p):
    c = np.clip(nrm(x) @ nrm(W).T, -1, 1)
    B, C = c.shape
    out = []
    for i in range(B):
        ci, yi = c[i], y[i]
        cy = ci[yi]
        if name in ("sv_softmax", "mv_am", "mv_arc"):
            s, t, m = get(p, "s", 32.0), get(p, "t", 1.2), get(p, "m", 0.35)
            ad = flag(p, "adaptive", True)
            fy = {"sv_softmax": cy, "mv_am": cy - m, "mv_arc": math.cos(math.acos(cy) + m)}[name]
            z = np.array([s * fy if j == yi else
                          ((s * (t * ci[j] + t - 1) if ad else s * (ci[j] + t - 1)) if ci[j] > fy else s * ci[j])
                          for j in range(C)])
        elif name == "arcface":
            s, m = get(p, "s", 64.0), get(p, "m", 0.5)
            fb = p.get("fallback", "threshold")
            phi = math.cos(math.acos(cy) + m)
            if fb == "threshold" and cy <= math.cos(math.pi - m):
                phi = cy - m * math.sin(m)
            if fb == "easy_margin" and cy <= 0:
                phi = cy
            z = s * ci.copy()
            z[yi] = s * phi
        elif name == "combined":
            s, m1, m2, m3 = get(p, "s", 64.0), get(p, "m1", 1.0), get(p, "m2", 0.3), get(p, "m3", 0.2)
            u = m1 * math.acos(cy) + m2
            k = 0 if m1 == 1.0 else max(0, math.floor(u / math.pi))
            z = s * ci.copy()
            z[yi] = s * ((-1) ** k * math.cos(u) - 2 * k - m3)
        elif name in ("lsoftmax", "sphereface"):
            m, lam = int(get(p, "m", 4)), get(p, "lambda", 0.0)
            th = math.acos(cy)
            k = min(int(th * m / math.pi), m - 1)
            psi = (-1) ** k * math.cos(m * th) - 2 * k
            xn = np.linalg.norm(x[i])
            wn = np.linalg.norm(W, axis=1) if name == "lsoftmax" else np.ones(C)
            z = xn * wn * ci
            z[yi] = xn * wn[yi] * (lam * cy + psi) / (1 + lam)
        elif name == "c_contrastive":
            m = get(p, "m", 1.0)
            d = 2 - 2 * ci
            out.append(d[yi] + sum(max(m - d[j], 0) for j in range(C) if j != yi))
            continue
        elif name == "c_triplet":
            m = get(p, "m", 0.8)
            d = 2 - 2 * ci
            out.append(sum(max(m + d[yi] - d[j], 0) for j in range(C) if j != yi))
            continue
        elif name == "normface":
            z = get(p, "s", 10.0) * ci
        elif name == "cosface":
            s, m = get(p, "s", 64.0), get(p, "m", 0.35)
            z = s * ci.copy()
            z[yi] = s * (cy - m)
        else:
            raise ValueError(name)
        out.append(lse(z) - z[yi])
    return float(np.mean(out))


def linear_head(name, t, p):
    x, y = t["embeddings"], t["labels"]
    z = x @ t["weight"].T + (t["bias"] if "bias" in t else 0.0)
    ce = np.array([lse(z[i]) - z[i, y[i]] for i in range(len(y))])
    if name == "softmax":
        return ce.mean()
    if name == "focal":
        g, a = get(p, "gamma", 2.0), get(p, "alpha", 1.0)
        pp = np.exp(-ce)
        return np.mean(a * (1 - pp) ** g * ce)
    lam, m = get(p, "lambda", 0.05), get(p, "m", 1.0)
    v = []
    for i in range(len(y)):
        for j in range(i + 1, len(y)):
            d = np.linalg.norm(x[i] - x[j])
            v.append(0.5 * d * d if y[i] == y[j] else 0.5 * max(m - d, 0) ** 2)
    return ce.mean() + lam * np.mean(v)


def evaluate(name, t, p):
    x, y = t["embeddings"], t["labels"]
    if name == "triplet":
        return triplet(x, y, p)
    if name == "contrastive":
        return contrastive(x, y, p)
    if name == "range":
        return range_loss(x, y, p)
    if name == "ddl":
        return ddl(x, t["teacher_embeddings"], y, p)
    if name == "center":
        return 0.5 * ((x - t["centers"][y]) ** 2).sum()
    if name in ("softmax", "focal", "deepid2"):
        return linear_head(name, t, p)
    return cosine_head(name, x, y, t["weight"], p)


def main():
    fx = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DIR
    bad = n = 0
    for line in open(os.path.join(fx, "cases.tsv")):
        case, name, ps = line.rstrip("\n").split("\t")
        p = dict(kv.split("=", 1) for kv in ps.split())
        t = load_file(os.path.join(fx, case + ".in.safetensors"))
        want = float(load_file(os.path.join(fx, case + ".out.safetensors"))["loss"])
        got = float(evaluate(name, t, p))
        rel = abs(got - want) / max(abs(want), 1e-300) if want != 0 else abs(got)
        ok = rel < 1e-10
        n += 1
        bad += not ok
        print("%-4s %-46s %-14s torch %-24.17g numpy %-24.17g rel %.1e" % ("ok" if ok else "BAD", case, name, want, got, rel))
    print("%d passed, %d failed" % (n - bad, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
