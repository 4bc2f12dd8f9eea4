"""What the pipeline and policy choices cost: train variants of config.yml and load each.

Variants (derived from config.yml at run time, so they follow its changes):

* ``ours``: config.yml as it is (RulePolicy + MemoizationPolicy, DIET without transformer);
* ``+TED``: ours plus TEDPolicy and UnexpecTEDIntentPolicy, as in ``rasa init``;
* ``DIET+2 transformer layers``: ours with a 2-layer transformer in DIET.

For each: full training time, NLU time per message, turns/s and p95 at 20 users,
and the Rasa server's resident memory. Slow (a training per variant); run by hand:

    python bench/policy_compare.py [--seconds 20] [--epochs 60]
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_bench import measure

from bot.runtime.model import rasa_env, rasa_executable
from bot.runtime.runner import Ports
from bot.settings import PROJECT_ROOT


def variants(epochs: int) -> dict[str, dict]:
    """The configurations to compare, built from config.yml."""
    ours = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    ted = copy.deepcopy(ours)
    ted["policies"] += [
        {"name": "UnexpecTEDIntentPolicy", "max_history": 5, "epochs": epochs},
        {"name": "TEDPolicy", "max_history": 5, "epochs": epochs, "constrain_similarities": True},
    ]
    transformer = copy.deepcopy(ours)
    for component in transformer["pipeline"]:
        if component["name"] == "DIETClassifier":
            component.update(number_of_transformer_layers=2, transformer_size=128)
    return {"ours": ours, "+TED": ted, "DIET+2 transformer layers": transformer}


def train(config: dict, out: Path, name: str) -> tuple[Path, float]:
    """Train ``config`` into ``out``; return the model and the wall time."""
    path = out / f"{name}.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(
        [rasa_executable(), "train", "--config", str(path), "--domain", "domain.yml", "--data", "data",
         "--out", str(out), "--fixed-model-name", name],
        cwd=PROJECT_ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out / f"{name}.tar.gz", time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--epochs", type=int, default=60, help="epochs of the TED policies")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, config) in enumerate(variants(args.epochs).items()):
            slug = f"variant{i}"
            model, seconds = train(config, Path(tmp), slug)
            result = measure(model, [20], args.seconds, Ports(rasa=5205 + i, actions=5255 + i))
            load = result["loads"][0]  # type: ignore[index]
            rows.append((name, seconds, result["parse_ms"], load["turns_per_s"], load["p95_ms"], result["rasa_rss_mb"]))
            print(f"{name}: trained in {seconds:.0f} s; measured", flush=True)
    print(f"\n{'variant':<28}{'train s':>9}{'NLU ms':>9}{'turns/s@20':>12}{'p95 ms@20':>11}{'Rasa MB':>9}")
    for name, seconds, parse_ms, tps, p95, rss in rows:
        print(f"{name:<28}{seconds:>9.0f}{parse_ms:>9.1f}{tps:>12.1f}{p95:>11.0f}{rss:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
