#!/usr/bin/python3
"""Summarises a pretraining log (examples/encoder/pretrained/pretrain.log)
as markdown: the held-out MLM loss and masked-token accuracy by step, the
training throughput, and the steps that 5 and 20 minutes of pretraining
reach at that throughput.

    pretrain_summary.py LOG > examples/results/encoder-pretrain.md

The log may hold several segments (a run resumed from its last checkpoint
recomputes the steps after it): for each step the last line wins.
Standard library only.
"""
import re
import statistics
import sys

STEP = re.compile(r"^step (\d+)/(\d+)\s+loss ([\d.]+)\s+acc ([\d.]+) %.*?(\d+) tok/s")
EVAL = re.compile(r"^eval step (\d+)\s+held-out loss ([\d.]+)\s+masked-token accuracy ([\d.]+) %")
CORPUS = re.compile(r"^corpus: (\d+) glosses, (\d+) tokens")
MODEL = re.compile(r"^model: (.*): (\d+) parameters")


def main(path):
    """Prints the summary; rows at steps 250, 500, every 1000, and the last."""
    steps, evals, rates, corpus, model, total = {}, {}, [], None, None, None
    segment_rates = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("corpus:"):
                if segment_rates:
                    rates = segment_rates
                segment_rates = []
                corpus = CORPUS.match(line).groups()
            elif line.startswith("model:"):
                model = MODEL.match(line).groups()
            elif (m := STEP.match(line)):
                s = int(m.group(1))
                total = int(m.group(2))
                steps[s] = (float(m.group(3)), float(m.group(4)))
                segment_rates.append(int(m.group(5)))
            elif (m := EVAL.match(line)):
                evals[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    if segment_rates:
        rates = segment_rates
    if not evals:
        sys.exit("pretrain_summary.py: no evaluation lines in " + path)
    last = max(steps)
    # Throughput of the last segment (the others ran under heavier load);
    # its first lines include start-up, so the median.
    rate = int(statistics.median(rates[1:] or rates))
    tokens_per_step = int(corpus[1]) / (int(corpus[0]) / 256)
    sec_per_step = tokens_per_step / rate
    print("# Encoder pretraining (masked LM on WordNet glosses)\n")
    print(f"Log: `{path}`; model {model[0]}, {int(model[1]):,} parameters; corpus "
          f"{int(corpus[0]):,} glosses, {int(corpus[1]):,} tokens; batch 256 glosses.\n")
    print(f"Reached step {last:,} of {total:,}. Throughput of the last segment: median "
          f"{rate:,} non-padding tokens/s (one OpenBLAS thread, a shared 2-core machine), "
          f"about {sec_per_step:.2f} s a step.\n")
    print("| step | minutes at that rate | training loss | held-out MLM loss | held-out masked-token accuracy |")
    print("|---:|---:|---:|---:|---:|")
    for s in sorted(evals):
        if s % 1000 and s not in (250, 500) and s != max(evals):
            continue  # every 1000 steps, and the first ones where it moves fast
        tl = steps.get(s, (float("nan"), 0))[0]
        print(f"| {s:,} | {s * sec_per_step / 60:.1f} | {tl:.3f} | {evals[s][0]:.3f} | {evals[s][1]:.2f} % |")
    for minutes in (5, 20):
        want = minutes * 60 / sec_per_step
        if want > max(evals) + 125:
            print(f"\nAfter about {minutes} minutes (step {want:,.0f}): not reached yet.", end="")
            continue
        s = min(evals, key=lambda k: abs(k - want))
        print(f"\nAfter about {minutes} minutes (step {s:,}): held-out loss {evals[s][0]:.3f}, "
              f"masked-token accuracy {evals[s][1]:.2f} %.", end="")
    first = min(steps)
    print(f"\n\nStart: training loss {steps[first][0]:.3f} at step {first} "
          f"(ln 8000 = 8.99 for a uniform guess).")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pretrain_summary.py LOG")
    main(sys.argv[1])
