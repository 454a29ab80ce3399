#!/usr/bin/env python3
"""bench.py - runs the cm benchmark and prints its tables (called by run.sh).

What it measures, per model (the definitions are the Stan anchor's, in
shared/bench/README.md, so that the two sets of figures can be divided):

  grad evals/s   gradient evaluations (warm-up included) / (warm-up +
                 sampling CPU seconds, summed over chains).  cm prints the
                 count ("N gradient evaluations in ..."); it is the number of
                 leapfrog steps plus the few evaluations of initialisation and
                 the step-size search, which Stan's n_leapfrog__ sum leaves
                 out (a few hundred in hundreds of thousands).
  min bulk ESS   the smallest bulk ESS over every reported quantity except
                 lp__ and the sampler's __ columns (Stan's set: parameters
                 and transformed parameters), from `cmrun --summary`.
  bulk ESS/s     min bulk ESS / sampling CPU seconds summed over chains.
  ESS/1k grads   1000 min bulk ESS / post-warm-up leapfrog steps (the
                 n_leapfrog__ column summed over every chain's draws).
  wall           seconds from the command's start until the last chain's
                 last draw: the output files appear (renamed from .tmp) only
                 when every chain has finished, so the harness polls for them
                 every 10 ms.  `exit` is the whole command, summary included.
  start          seconds from the command's start to its first warm-up
                 iteration, measured as the wall time of a whole run with
                 --chains 1 --warmup 1 --samples 1 (parse, check, data,
                 trace, initial point, two iterations, summary, exit; nothing
                 subtracted), best of three.  Stan's counterpart is its
                 compile time.
  peak RSS       the command's maximum resident set size, from /usr/bin/time
                 (its "Maximum resident set size"), else the largest VmHWM
                 read from /proc while it runs.

Seeds and adapt_delta follow the anchor's protocol: every seed runs at 0.8;
if any seed's run has a post-warm-up divergence the same seeds run again at
0.95, then 0.99.  The headline row is the lowest adapt_delta with no
divergence in any seed, else the highest tried; its figures are medians
over the seeds.

Python standard library only: the harness must run wherever `make bench`
does.  Everything it measures it also writes to OUT/results.json, and the
printed tables to OUT/results.md.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

MODELS = [
    # name, data file, Stan programs to compare with
    ("eight_schools_noncentered", "eight_schools.json", ["eight_schools_noncentered"]),
    ("eight_schools_centered", "eight_schools.json", ["eight_schools_centered"]),
    ("logistic_regression", "logistic_regression.json",
     ["logistic_regression", "logistic_regression_glm"]),
    ("hier_linear_radon", "hier_linear_radon.json", ["hier_linear_radon"]),
    ("mvn100_corr", "mvn100_corr.json", ["mvn100_corr", "mvn100_corr_plain"]),
    ("stochastic_volatility", "stochastic_volatility.json", ["stochastic_volatility"]),
]
AD_LEVELS = [0.8, 0.95, 0.99]
GRAD_RE = re.compile(r"^(\d+) gradient evaluations in ([0-9.eE+-]+) s", re.M)


class Out:
    """Prints to stdout and keeps a copy for results.md."""

    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        print(s, flush=True)
        self.lines.append(s)


say = Out()


TIME_BIN = "/usr/bin/time"


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_rusage(argv, done_path=None, stdout_path=None):
    """Runs argv; returns (exit code, stdout, stderr, seconds to exit,
    seconds until done_path appeared or None, peak RSS in KB or None).

    Peak RSS: not from our own wait4, because Linux carries a process's
    high-water mark across exec and a child forked from Python starts with
    Python's pages counted.  /usr/bin/time forks the command from a small
    process and reports its maximum resident set size (-f %M); without it
    the fallback is the child's VmHWM from /proc, read at every poll.
    Output goes to temporary files, not pipes, so polling cannot deadlock
    on a full pipe."""
    use_time = os.access(TIME_BIN, os.X_OK)
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(mode="r") as ft:
        cmd = [TIME_BIN, "-f", "%M", "-o", ft.name] + argv if use_time else argv
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        t_done = None
        hwm = None
        while p.poll() is None:
            if done_path and t_done is None and os.path.exists(done_path):
                t_done = time.monotonic() - t0
            if not use_time:
                v = vm_hwm_kb(p.pid)
                hwm = v if hwm is None or (v is not None and v > hwm) else hwm
            time.sleep(0.01)
        t_exit = time.monotonic() - t0
        if done_path and t_done is None and os.path.exists(done_path):
            t_done = t_exit   # finished between two polls
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode(errors="replace")
        err = fe.read().decode(errors="replace")
        if use_time:
            tail = ft.read().split()
            hwm = int(tail[-1]) if tail and tail[-1].isdigit() else None
    if stdout_path:
        with open(stdout_path, "w") as f:
            f.write(out)
    return p.returncode, out, err, t_exit, t_done, hwm


def read_chain_csv(path):
    """(leapfrog steps, divergences, warm-up s, sampling s) of one chain."""
    leap = div = 0
    warm = samp = None
    header = None
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                m = re.search(r"Elapsed Time:\s*([0-9.eE+-]+) seconds \(Warm-up\)", line)
                if m:
                    warm = float(m.group(1))
                m = re.search(r"^#\s+([0-9.eE+-]+) seconds \(Sampling\)", line)
                if m:
                    samp = float(m.group(1))
                continue
            if header is None:
                header = line.rstrip("\n").split(",")
                il, idv = header.index("n_leapfrog__"), header.index("divergent__")
                continue
            if not line.strip():
                continue
            row = line.split(",")
            leap += int(float(row[il]))
            div += int(float(row[idv]))
    if warm is None or samp is None:
        raise ValueError(f"{path}: no Elapsed Time lines")
    return leap, div, warm, samp


def min_bulk_ess(cmrun, files):
    """(min bulk ESS, its column, max R-hat) over the non-sampler columns,
    from cmrun --summary."""
    r = subprocess.run([cmrun, "--summary"] + files, capture_output=True, text=True)
    if r.returncode != 0:
        raise ValueError("cmrun --summary failed: " + r.stderr.strip()[:300])
    cols = None
    best = (float("inf"), "?")
    rhat = 0.0
    for line in r.stdout.splitlines():
        tok = line.split()
        if "ESS_bulk" in tok:
            cols = tok
            continue
        if cols is None or len(tok) != len(cols) + 1:
            continue
        name = tok[0]
        if name == "lp__" or name.endswith("__"):
            continue
        try:
            ess = float(tok[1 + cols.index("ESS_bulk")])
            rh = float(tok[1 + cols.index("R_hat")])
        except ValueError:
            continue
        if ess == ess and ess < best[0]:
            best = (ess, name)
        if rh == rh:
            rhat = max(rhat, rh)
    if best[0] == float("inf"):
        raise ValueError("no ESS_bulk found in the summary")
    return best[0], best[1], rhat


def cm_run(a, name, data, seed, ad):
    stem = os.path.join(a.out, f"{name}.ad{ad:.2f}.s{seed}")
    files = [f"{stem}_{k}.csv" for k in range(1, a.chains + 1)]
    for f in files + [f + ".tmp" for f in files]:
        if os.path.exists(f):
            os.remove(f)
    argv = [a.cmrun, os.path.join(a.models, name + ".cm"), "--data", data,
            "--seed", str(seed), "--chains", str(a.chains), "--warmup", str(a.warmup),
            "--samples", str(a.samples), "--adapt-delta", str(ad), "--output", stem + ".csv",
            "--quiet"]
    rc, out, err, t_exit, t_done, rss = run_rusage(argv, done_path=files[0],
                                                   stdout_path=stem + ".out")
    res = {"seed": seed, "adapt_delta": ad, "argv": argv, "rc": rc}
    if rc != 0 or not all(os.path.exists(f) for f in files):
        res["error"] = (err.strip() or out.strip())[-400:] or f"exit status {rc}"
        return res
    m = GRAD_RE.search(out)
    if not m:
        res["error"] = "no gradient count in cmrun's output"
        return res
    leap = div = 0
    warm = []
    samp = []
    for f in files:
        l, d, w, s = read_chain_csv(f)
        leap += l
        div += d
        warm.append(w)
        samp.append(s)
    ess, ess_col, rhat = min_bulk_ess(a.cmrun, files)
    grads = int(m.group(1))
    cpu = sum(warm) + sum(samp)
    res.update({
        "grads": grads, "leapfrog_sampling": leap, "divergences": div,
        "warmup_s_sum": sum(warm), "sampling_s_sum": sum(samp),
        "grad_evals_per_s": grads / cpu if cpu > 0 else float("nan"),
        "min_bulk_ess": ess, "min_bulk_ess_variable": ess_col, "max_rhat": rhat,
        "bulk_ess_per_s_sampling": ess / sum(samp) if sum(samp) > 0 else float("nan"),
        "bulk_ess_per_1k_grads_sampling": 1000 * ess / leap if leap else float("nan"),
        "wall_s": t_done if t_done is not None else t_exit, "exit_s": t_exit,
        "max_rss_kb": rss,
    })
    return res


def startup_time(a, name, data):
    best = None
    for _ in range(3):
        argv = [a.cmrun, os.path.join(a.models, name + ".cm"), "--data", data, "--chains", "1",
                "--warmup", "1", "--samples", "1", "--seed", "101", "--quiet"]
        rc, out, err, t_exit, _, _ = run_rusage(argv)
        if rc != 0:
            return None
        best = t_exit if best is None else min(best, t_exit)
    return best


FIELDS = ["grad_evals_per_s", "min_bulk_ess", "bulk_ess_per_s_sampling",
          "bulk_ess_per_1k_grads_sampling", "divergences", "wall_s", "max_rss_kb"]


def fmt(x, nd=None):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if x != x:
        return "nan"
    if nd is not None:
        return f"{x:,.{nd}f}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def mb(kb):
    return fmt(kb / 1024) if kb is not None else "n/a"


def table(rows, head):
    say("| " + " | ".join(head) + " |")
    say("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        say("| " + " | ".join(r) + " |")
    say()


def median_of(runs, f):
    v = [r[f] for r in runs if f in r and r[f] is not None]
    return statistics.median(v) if v else None


def bench_model(a, name, datafile):
    data = os.path.join(a.data, datafile)
    entry = {"name": name, "data": data, "runs": []}
    entry["start_s"] = startup_time(a, name, data)
    levels = AD_LEVELS if a.escalate else [AD_LEVELS[0]]
    for ad in levels:
        runs = [cm_run(a, name, data, s, ad) for s in a.seeds]
        entry["runs"] += runs
        if any("error" in r for r in runs):
            break
        if sum(r["divergences"] for r in runs) == 0:
            break
    ok = [r for r in entry["runs"] if "error" not in r]
    ads = sorted({r["adapt_delta"] for r in ok})
    head = None
    for ad in ads:
        at = [r for r in ok if r["adapt_delta"] == ad]
        if all(r["divergences"] == 0 for r in at):
            head = ad
            break
    if head is None and ads:
        head = ads[-1]
    entry["headline_adapt_delta"] = head
    if head is not None:
        hr = [r for r in ok if r["adapt_delta"] == head]
        entry["median"] = {f: median_of(hr, f) for f in FIELDS}
        entry["median"]["min_bulk_ess_variable"] = hr[0]["min_bulk_ess_variable"]
    return entry


def print_model(e):
    say(f"### {e['name']}")
    say()
    rows = []
    for r in e["runs"]:
        if "error" in r:
            rows.append([f"{r['adapt_delta']:.2f}", str(r["seed"]),
                         "FAILED: " + r["error"].replace("\n", " ").replace("|", "/")[:200]]
                        + [""] * 9)
            continue
        rows.append([f"{r['adapt_delta']:.2f}", str(r["seed"]), fmt(r["grad_evals_per_s"]),
                     f"{fmt(r['min_bulk_ess'])} ({r['min_bulk_ess_variable']})",
                     fmt(r["bulk_ess_per_s_sampling"]),
                     fmt(r["bulk_ess_per_1k_grads_sampling"]), str(r["divergences"]),
                     fmt(r["max_rhat"], 3), fmt(r["wall_s"]), fmt(r["exit_s"]),
                     fmt(e["start_s"]), mb(r["max_rss_kb"])])
    if e.get("median") and len({r["seed"] for r in e["runs"]}) > 1:
        m = e["median"]
        rows.append([f"**{e['headline_adapt_delta']:.2f}**", "median", fmt(m["grad_evals_per_s"]),
                     fmt(m["min_bulk_ess"]), fmt(m["bulk_ess_per_s_sampling"]),
                     fmt(m["bulk_ess_per_1k_grads_sampling"]), fmt(m["divergences"], 0), "",
                     fmt(m["wall_s"]), "", fmt(e["start_s"]), mb(m["max_rss_kb"])])
    table(rows, ["adapt_delta", "seed", "grad evals/s", "min bulk ESS (where)", "bulk ESS/s",
                 "ESS/1k grads", "div", "max R-hat", "wall s", "exit s", "start s",
                 "peak RSS MB"])


def stan_figures(stan, prog):
    m = stan.get("models", {}).get(prog)
    if not m:
        return None
    had = m.get("headline_adapt_delta")
    med = m.get("median", {})
    key = f"{had:.2f}" if isinstance(had, (int, float)) else None
    if key not in med:
        return None
    f = dict(med[key])
    f["compile_s"] = m.get("compile_s")
    f["adapt_delta"] = had
    return f


def print_stan_ratios(entries, stan):
    say("## cm / Stan")
    say()
    say("Each cell is cm's figure divided by Stan's (medians over the seeds, each at its "
        "headline adapt_delta).  For grad evals/s, min bulk ESS, bulk ESS/s and ESS/1k grads "
        "above 1 means cm is better; for wall and start (Stan: compile time) below 1 means "
        "cm is faster.")
    say()
    rows = []
    for e in entries:
        cm = e.get("median")
        for prog in dict((m[0], m[2]) for m in MODELS)[e["name"]]:
            s = stan_figures(stan, prog)
            if not cm or not s:
                rows.append([e["name"], prog, "n/a (missing run)"] + [""] * 7)
                continue

            def ratio(f):
                c, t = cm.get(f), s.get(f)
                return c / t if c is not None and t else None
            rows.append([e["name"], prog,
                         f"{e['headline_adapt_delta']:.2f} / {s['adapt_delta']:.2f}",
                         fmt(ratio("grad_evals_per_s")), fmt(ratio("min_bulk_ess")),
                         fmt(ratio("bulk_ess_per_s_sampling")),
                         fmt(ratio("bulk_ess_per_1k_grads_sampling")),
                         f"{fmt(cm['divergences'])} / {fmt(s['divergences'])}",
                         fmt(cm["wall_s"] / s["wall_s"]) if s.get("wall_s") else "n/a",
                         fmt(e["start_s"] / s["compile_s"])
                         if e.get("start_s") and s.get("compile_s") else "n/a"])
    table(rows, ["cm model", "Stan program", "adapt_delta cm / Stan", "grad evals/s",
                 "min bulk ESS", "bulk ESS/s", "ESS/1k grads", "div cm / Stan", "wall",
                 "start / compile"])
    rows = []
    for e in entries:
        for prog in dict((m[0], m[2]) for m in MODELS)[e["name"]]:
            s = stan_figures(stan, prog)
            if s:
                rows.append([prog, f"{s['adapt_delta']:.2f}", fmt(s["grad_evals_per_s"]),
                             fmt(s["min_bulk_ess"]), fmt(s["bulk_ess_per_s_sampling"]),
                             fmt(s["bulk_ess_per_1k_grads_sampling"]), fmt(s["divergences"]),
                             fmt(s["wall_s"]), fmt(s["compile_s"])])
    when = (stan.get("meta") or {}).get("date", "date unknown")
    say(f"Stan's own figures (its run of {when}; with BENCH_STAN=1 that is this run):")
    say()
    table(rows, ["Stan program", "adapt_delta", "grad evals/s", "min bulk ESS", "bulk ESS/s",
                 "ESS/1k grads", "div", "wall s", "compile s"])


# ------------------------------------------------------------ hand-written


def best_of(n, f):
    """The smallest of n timings from f() -> (seconds or None, error): on
    a shared machine the noise only ever adds time."""
    best, err = None, None
    for _ in range(n):
        t, e = f()
        if t is None:
            return None, e
        best = t if best is None else min(best, t)
    return best, err


def cm_grad_time(a, name, data, steps, samples):
    """cm's CPU seconds per gradient from one static-HMC chain on one
    thread (no output file: the draws stay in memory)."""
    argv = [a.cmrun, os.path.join(a.models, name + ".cm"), "--data", data, "--infer", "hmc",
            "--steps", str(steps), "--warmup", "100", "--samples", str(samples), "--chains",
            "1", "--threads", "1", "--seed", "101", "--quiet"]
    rc, out, err, *_ = run_rusage(argv)
    m = GRAD_RE.search(out)
    if rc != 0 or not m:
        return None, (err.strip() or out.strip())[-300:]
    return float(m.group(2)) / int(m.group(1)), None


def gradbench(a, args, prog=None):
    r = subprocess.run([prog or a.gradbench] + args, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    tok = r.stdout.split()
    return float(tok[tok.index("ns_per_grad") + 1]) * 1e-9, None


def callgrind_ir(argv, only=None):
    """Instructions executed by argv under callgrind (only inside the
    function `only`, with its callees, when given), or None."""
    opts = ["--toggle-collect=" + only] if only else []
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + opts
                       + argv, capture_output=True, text=True)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    return (int(m.group(1)), r.stdout) if r.returncode == 0 and m else (None, r.stderr[-300:])


def callgrind_per_grad(a, name, data, steps, s1, s2):
    """Instructions per gradient of cm: the difference of two static-HMC
    runs that differ only in their number of draws, divided by the
    difference of their gradient counts (start-up cancels).  Only the
    sampler's own work is counted (sampler_run: gradients, leapfrog steps,
    draws): the summary printed after sampling (FFT-based ESS, sorting for
    quantiles) also grows with the number of draws, and would otherwise
    be charged to the gradient."""
    res = []
    for s in (s1, s2):
        argv = [a.cmrun, os.path.join(a.models, name + ".cm"), "--data", data, "--infer", "hmc",
                "--steps", str(steps), "--warmup", "20", "--samples", str(s), "--chains", "1",
                "--threads", "1", "--seed", "101", "--quiet"]
        ir, out = callgrind_ir(argv, only="sampler_run")
        m = GRAD_RE.search(out or "")
        if ir is None or not m:
            return None
        res.append((ir, int(m.group(1))))
    return (res[1][0] - res[0][0]) / (res[1][1] - res[0][1])


def callgrind_hand(a, args, n1, n2):
    return callgrind_prog(a.gradbench, args, n1, n2)


def callgrind_prog(prog, args, n1, n2):
    """Instructions per evaluation of a gradbench-style program: the
    difference of --evals n2 and n1 runs over n2 - n1."""
    irs = []
    for n in (n1, n2):
        ir, _ = callgrind_ir([prog] + args + ["--evals", str(n)])
        if ir is None:
            return None
        irs.append(ir)
    return (irs[1] - irs[0]) / (n2 - n1)


def handwritten(a):
    say("## cm's gradient against hand-written C")
    say()
    say("cm: CPU seconds per gradient in one static-HMC chain on one thread "
        "(`--infer hmc --steps L`, warm-up 100; the printed gradient count and CPU time, so "
        "each gradient carries one leapfrog update).  Hand-written: bench/handwritten/"
        "gradbench.c, the same log density on the same unconstrained parameters, timed over "
        f"{a.hand_seconds:g} s of CPU at a fixed point.  Each time is the best of three runs; "
        "the ratio is cm / hand-written.")
    say()
    es = os.path.join(a.data, "eight_schools.json")
    lr = os.path.join(a.data, "logistic_regression.json")
    cases = [
        ("eight_schools_noncentered", es, 50, 25000, [("loops", ["eight_schools", es])]),
        ("logistic_regression", lr, 20, 200,
         [("loops", ["logistic", lr]), ("blas", ["logistic", lr, "--blas"])]),
    ]
    rows = []
    results = []
    for name, data, steps, samples, hands in cases:
        t_cm, err = best_of(3, lambda: cm_grad_time(a, name, data, steps, samples))
        t_alone = t_native = None
        model = os.path.join(a.models, name + ".cm")
        if a.cmgrad:
            t_alone, _ = best_of(3, lambda: gradbench(
                a, [model, data, "--seconds", str(a.hand_seconds), "--jit", "off"], prog=a.cmgrad))
            t_native, _ = best_of(3, lambda: gradbench(
                a, [model, data, "--seconds", str(a.hand_seconds), "--jit", "on"], prog=a.cmgrad))
        ir_cm = ir_alone = ir_native = None
        if a.callgrind:
            small, large = (100, 600) if name.startswith("eight") else (10, 30)
            ir_cm = callgrind_per_grad(a, name, data, steps, small, large)
            if a.cmgrad:
                n1, n2 = (1000, 11000) if name.startswith("eight") else (20, 120)
                ir_alone = callgrind_prog(a.cmgrad, [model, data, "--jit", "off"], n1, n2)
                ir_native = callgrind_prog(a.cmgrad, [model, data, "--jit", "on"], n1, n2)
        for variant, args in hands:
            t_hw, err2 = best_of(3, lambda: gradbench(a, args + ["--seconds",
                                                                 str(a.hand_seconds)]))
            ir_hw = None
            if a.callgrind:
                n1, n2 = (1000, 11000) if name.startswith("eight") else (20, 120)
                ir_hw = callgrind_hand(a, args, n1, n2)
            results.append({"model": name, "hand_variant": variant, "cm_s_per_grad": t_cm,
                            "cm_alone_s_per_grad": t_alone, "cm_native_s_per_grad": t_native,
                            "hand_s_per_grad": t_hw, "cm_ir_per_grad": ir_cm,
                            "cm_alone_ir_per_grad": ir_alone, "cm_native_ir_per_grad": ir_native,
                            "hand_ir_per_grad": ir_hw, "error": err or err2})
            rows.append([name, variant,
                         f"{t_cm * 1e6:.4g}" if t_cm else f"failed: {err}",
                         f"{t_hw * 1e6:.4g}" if t_hw else f"failed: {err2}",
                         fmt(t_cm / t_hw) if t_cm and t_hw else "n/a",
                         f"{t_alone * 1e6:.4g}" if t_alone else "n/a",
                         fmt(t_alone / t_hw) if t_alone and t_hw else "n/a",
                         f"{t_native * 1e6:.4g}" if t_native else "n/a",
                         fmt(t_native / t_hw) if t_native and t_hw else "n/a",
                         fmt(ir_cm) if ir_cm else "n/a", fmt(ir_hw) if ir_hw else "n/a",
                         fmt(ir_cm / ir_hw) if ir_cm and ir_hw else "n/a",
                         fmt(ir_alone / ir_hw) if ir_alone and ir_hw else "n/a",
                         fmt(ir_native / ir_hw) if ir_native and ir_hw else "n/a"])
    table(rows, ["model", "hand-written form", "cm µs/grad", "hand µs/grad", "cm / hand",
                 "interpreted µs/grad", "interp / hand", "native µs/grad", "native / hand",
                 "cm instr/grad", "hand instr/grad", "instr ratio", "interp instr ratio",
                 "native instr ratio"])
    if a.cmgrad:
        say("cm alone: bench/handwritten/cmgrad.c, cm's model_logp_grad called in a loop at "
            "gradbench's fixed point (no sampler around it), timed the same way as the "
            "hand-written code: the like-for-like ratio, for the interpreter (`--jit off`) "
            "and for the native tier (`--jit on`).  The first columns (cm in static HMC) use "
            "whichever the run's --jit default gives: the native code, cached above.")
        say()
    if a.callgrind:
        say("Instruction counts: valgrind --tool=callgrind, the difference of two runs that "
            "differ only in their number of gradients, divided by that difference "
            "(start-up and data loading cancel).  For cm only the sampler is counted "
            "(`--toggle-collect=sampler_run`: gradients, leapfrog updates, draws), not the "
            "summary printed afterwards, which also grows with the number of draws.")
        say()
    return results


def warm_native(a, only):
    """Compile each model's native code (runtime/native.h) into the cache
    before anything is timed, so that every timed run uses it from its
    first gradient, as every run after a model's first does; print what
    the compile took (once per model layout)."""
    rows = []
    for name, datafile, _ in MODELS:
        if only and name not in only:
            continue
        argv = [a.cmrun, os.path.join(a.models, name + ".cm"), "--data",
                os.path.join(a.data, datafile), "--jit", "on", "--warmup", "1", "--samples", "1",
                "--chains", "1", "--quiet"]
        t0 = time.time()
        r = subprocess.run(argv, capture_output=True, text=True)
        rows.append([name, f"{time.time() - t0:.2f}" if r.returncode == 0
                     else "interpreted: " + r.stderr.strip().split("\n")[-1][:120]])
    say("## Native code")
    say()
    say("Each model's tape compiled to native code (`--jit on`, runtime/native.h) into "
        f"CM_CACHE_DIR={os.environ.get('CM_CACHE_DIR', '(default)')} before the timed runs, "
        "which then load it (about a millisecond).  Seconds for the whole run that compiled it:")
    say()
    table(rows, ["model", "compile s"])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmrun", required=True)
    ap.add_argument("--models", required=True, help="folder of the .cm files")
    ap.add_argument("--data", required=True, help="folder of the benchmark JSON data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="101")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--escalate", type=int, default=1)
    ap.add_argument("--stan-json", default="")
    ap.add_argument("--gradbench", default="")
    ap.add_argument("--cmgrad", default="")
    ap.add_argument("--hand-seconds", type=float, default=1.0)
    ap.add_argument("--callgrind", type=int, default=0)
    ap.add_argument("--reuse", action="store_true",
                    help="print the tables of the models from OUT/results.json instead of "
                         "running them again (to add Stan ratios to an earlier run)")
    a = ap.parse_args()
    a.seeds = [int(s) for s in a.seeds.replace(",", " ").split()]
    os.makedirs(a.out, exist_ok=True)

    saved = {}
    if a.reuse:
        try:
            with open(os.path.join(a.out, "results.json")) as f:
                old = json.load(f)
            saved = {e["name"]: e for e in old["models"]}
            a.seeds = old["seeds"]
        except (OSError, ValueError, KeyError) as ex:
            print(f"bench: no earlier results to reuse in {a.out}/results.json ({ex})",
                  file=sys.stderr)
            return 2
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    say(f"# cm benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    say()
    say(f"{subprocess.run([a.cmrun, '--version'], capture_output=True, text=True).stdout.strip()}"
        f"; {os.cpu_count()} CPUs; load average at start {' '.join(load)}; seeds "
        f"{' '.join(map(str, a.seeds))}; {a.chains} chains x ({a.warmup} warm-up + {a.samples} "
        f"draws); OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    say()
    entries = []
    only = set(filter(None, a.only.split(",")))
    if not a.reuse:
        warm_native(a, only)
    if a.reuse:
        say(f"(the model figures below are those of the earlier run saved in {a.out})")
        say()
    for name, datafile, _ in MODELS:
        if only and name not in only:
            continue
        if a.reuse and name not in saved:
            continue
        e = saved[name] if a.reuse else bench_model(a, name, datafile)
        print_model(e)
        entries.append(e)
    if entries:
        rows = []
        for e in entries:
            m = e.get("median")
            if not m:
                rows.append([e["name"], "failed"] + [""] * 8)
                continue
            rows.append([e["name"], f"{e['headline_adapt_delta']:.2f}",
                         fmt(m["grad_evals_per_s"]), fmt(m["min_bulk_ess"]),
                         fmt(m["bulk_ess_per_s_sampling"]),
                         fmt(m["bulk_ess_per_1k_grads_sampling"]), fmt(m["divergences"], 0),
                         fmt(m["wall_s"]), fmt(e["start_s"]), mb(m["max_rss_kb"])])
        say("## Summary (headline adapt_delta; medians over the seeds)")
        say()
        table(rows, ["model", "adapt_delta", "grad evals/s", "min bulk ESS", "bulk ESS/s",
                     "ESS/1k grads", "div", "wall s", "start s", "peak RSS MB"])
    stan = None
    if a.stan_json:
        try:
            with open(a.stan_json) as f:
                stan = json.load(f)
        except (OSError, ValueError) as ex:
            say(f"Stan results unreadable ({a.stan_json}): {ex}")
    if stan and entries:
        print_stan_ratios(entries, stan)
    hand = handwritten(a) if a.gradbench else []
    if not a.reuse:  # a reuse may print a subset: keep the full record
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump({"models": entries, "handwritten": hand, "seeds": a.seeds}, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(say.lines) + "\n")
    failed = any("error" in r for e in entries for r in e["runs"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
