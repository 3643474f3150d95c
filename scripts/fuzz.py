"""The long fuzz run: the properties of tests/fuzz/ over many more inputs (default 100 000).

    .venv/bin/python scripts/fuzz.py [--examples N] [--seed S] [--citizens N] [--only grpc,raw,verifier]

Needs the test extras (``scripts/test`` installs them; hypothesis makes the inputs). It
seeds a throwaway sandbox, raises its agencies' rate limits out of reach, runs the
registries and the hub in this process (real mTLS, as tests/conftest.py starts them) and
spends the budget on three surfaces, in this order, each target taking an equal share
of what is left (a target whose inputs run out, like an empty request, leaves its share to
the next):

    grpc      every method of LinkageHub, AuditLog, ProviderService and ProviderAdmin:
              requests built from the descriptors, and mutations of valid ones
    raw       the same methods, arbitrary bytes and mutated serialized requests
    verifier  linkage audit verify's parsers (bundle, JWS, QR text, checkpoint note, summary, paper code,
              and a small share of certified PDFs and QR pictures, which are slow)

Every answer must be OK or a status of the error table with ErrorInfo, a refusal must
log nothing, and every parser must raise only its own errors; every 2 000 inputs and at
the end the servers must still pass health checks and serve a valid fetch. Prints inputs
per second, answers by status code and reason, parser outcomes, and each distinct
failure with an input that caused it. Exit 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from linkage.cli.sandbox import init
from linkage.logs import configure_logging
from tests.fuzz.corpus import Corpus, targets
from tests.fuzz.strategies import mutated_bytes, requests
from tests.fuzz.surface import CALLERS, Surface, ThreadedStack, unlimit

LIVENESS_EVERY = 2000
# The verifier's share of the budget, and within it the slow paper forms' (PDF signature validation, QR decoding).
SHARES = {"grpc": 0.55, "raw": 0.20, "verifier": 0.25}
PAPER_SHARE = 0.1


@dataclass
class Tally:
    inputs: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # verifier: "target outcome"
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)  # problem -> (count, an input)
    since_alive: int = 0

    def fail(self, problem: str, example: str) -> None:
        count, first = self.failures.get(problem, (0, example))
        self.failures[problem] = (count + 1, first)


def drive(strategy: st.SearchStrategy[Any], budget: int, run_seed: int, check: Callable[[Any], None]) -> None:
    """Feed up to ``budget`` inputs of ``strategy`` to ``check``: generation only, no shrinking, no database."""
    if budget <= 0:
        return

    @settings(max_examples=budget, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(run_seed)
    @given(strategy)
    def run(value: Any) -> None:
        check(value)

    run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000, help="inputs in all (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed: the same seed, the same inputs")
    parser.add_argument("--citizens", type=int, default=500, help="citizens in the throwaway sandbox")
    parser.add_argument("--only", default="grpc,raw,verifier", help="surfaces to fuzz, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    surfaces = [s for s in args.only.split(",") if s]
    unknown = set(surfaces) - set(SHARES)
    if unknown or not surfaces:
        parser.error(f"--only takes {', '.join(SHARES)}; got {args.only!r}")
    if args.examples < 1:
        parser.error("--examples must be at least 1")

    # The servers' request lines and the fault warnings the fuzzer causes would drown the figures; errors still show.
    configure_logging("error")
    with tempfile.TemporaryDirectory(prefix="linkage-fuzz-") as tmp:
        home = unlimit(init(Path(tmp) / "sandbox", citizens=args.citizens, seed=args.seed))
        personas = json.loads(home.personas.read_text(encoding="utf-8"))
        running = ThreadedStack(home)
        surface = Surface(running.stack, personas)
        try:
            surface.prepare()
            corpus = Corpus.build(surface) if "verifier" in surfaces else None
            tally, seconds = _run(surface, corpus, surfaces, args.examples, args.seed)
        finally:
            surface.close()
            running.close()
    _report(tally, seconds, surface, args)
    return 1 if tally.failures else 0


def _run(surface: Surface, corpus: Corpus | None, surfaces: list[str], examples: int,
         run_seed: int) -> tuple[Tally, float]:
    tally = Tally()
    total_share = sum(SHARES[s] for s in surfaces)
    jobs: list[tuple[str, float, st.SearchStrategy[Any], Callable[[Any], None]]] = []

    def alive_now() -> None:
        tally.since_alive = 0
        for problem in surface.alive():
            tally.fail(f"still serving: {problem}", "(after the inputs before it)")

    def counted(target: str, check: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(value: Any) -> None:
            tally.inputs += 1
            tally.by_target[target] += 1
            tally.since_alive += 1
            check(value)
            if tally.since_alive >= LIVENESS_EVERY:
                alive_now()

        return run

    for kind in ("grpc", "raw"):
        if kind not in surfaces:
            continue
        for method in surface.methods:
            share = SHARES[kind] / total_share / len(surface.methods)
            callers = st.sampled_from(CALLERS[method.server])
            if kind == "grpc":
                inputs = st.tuples(callers, requests(method.request, surface.valid[method.path], surface.vocab).map(
                    lambda m: m.SerializeToString()))
            else:
                valid = [m.SerializeToString() for m in surface.valid[method.path]]
                inputs = st.tuples(callers, st.one_of(st.binary(max_size=256), *[mutated_bytes(v) for v in valid]))

            def check_call(item: tuple[str, bytes], method: Any = method, kind: str = kind) -> None:
                caller, raw = item
                for problem in surface.exercise(method, caller, raw):
                    tally.fail(f"{method.name}: {problem}", f"{kind} as {caller}: {raw!r:.300}")

            jobs.append((f"{kind} {method.name}", share, inputs, check_call))
    if "verifier" in surfaces and corpus is not None:
        parsers = targets(corpus)
        weights = {t.name: (PAPER_SHARE if t.name == "audit:paper" else 1.0) for t in parsers}
        for target in parsers:
            share = SHARES["verifier"] / total_share * weights[target.name] / sum(weights.values())

            def check_parser(value: Any, target: Any = target) -> None:
                outcome, problem = target.run(value)
                tally.outcomes[f"{target.name} {outcome}"] += 1
                if problem is not None:
                    tally.fail(f"{target.name}: {problem}", f"{value!r:.300}")

            jobs.append((f"verifier {target.name}", share, target.inputs, check_parser))

    started = time.perf_counter()
    share_left = sum(share for _, share, _, _ in jobs)
    for i, (name, share, inputs, check) in enumerate(jobs):
        budget = round((examples - tally.inputs) * share / share_left) if share_left else 0
        share_left -= share
        before, t0 = tally.inputs, time.perf_counter()
        drive(inputs, budget, run_seed + i, counted(name, check))
        done, spent = tally.inputs - before, time.perf_counter() - t0
        print(f"{name:<42} {done:>7} inputs {done / spent if spent else 0:>8.0f}/s", flush=True)
    alive_now()
    return tally, time.perf_counter() - started


def _report(tally: Tally, seconds: float, surface: Surface, args: argparse.Namespace) -> None:
    rate = tally.inputs / seconds if seconds else 0.0
    print()
    print(f"{tally.inputs} inputs in {seconds:.1f} s: {rate:.0f} inputs/s  (seed {args.seed}; {platform.machine()}, "
          f"{platform.python_implementation()} {platform.python_version()})")
    per_surface = Counter({k: 0 for k in SHARES})
    for name, count in tally.by_target.items():
        per_surface[name.split(" ", 1)[0]] += count
    print("inputs per surface: " + ", ".join(f"{k} {v}" for k, v in per_surface.items() if v))
    print("gRPC answers by status: " + ", ".join(f"{code} {n}" for code, n in surface.codes.most_common()))
    print("refusals by reason (top 25): " + ", ".join(f"{r} {n}" for r, n in surface.reasons.most_common(25)))
    print("parser outcomes: " + ", ".join(f"{o} {n}" for o, n in sorted(tally.outcomes.items())))
    if tally.failures:
        print(f"\nFAILURES: {len(tally.failures)} distinct")
        for problem, (count, example) in sorted(tally.failures.items(), key=lambda kv: -kv[1][0]):
            print(f"  {count:>6} x {problem}\n           e.g. {example}")
    else:
        print("failures: none (every answer proper, nothing logged for a refusal, servers still serving)")
    if args.json:
        print(json.dumps({"inputs": tally.inputs, "seconds": round(seconds, 1), "inputs_per_s": round(rate),
                          "by_surface": per_surface, "codes": surface.codes, "outcomes": tally.outcomes,
                          "failures": {p: c for p, (c, _) in tally.failures.items()}}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
