"""Training speed: full training from a clean cache under several NLU options, and incremental retraining.

For each option this trains the project's NLU and dialogue model (``rasa train``, the same command line as
``bot.runtime.model.ensure_model``: config, domain.yml, data/) with a config derived from config.yml in Python
(the DIET entry edited, replaced or given other TensorFlow threads; config.yml itself is never touched), each in
its own folder under ``--workdir`` (``/tmp/trainbench/<option>``) with its own, empty Rasa cache
(``RASA_CACHE_DIRECTORY``; Rasa's default is ``.rasa/cache`` in the working directory), so every full training
starts from nothing. It prints, per option:

* the wall time of ``rasa train`` (process start to exit) and its ratio to the baseline's in the same run;
* held-out intent accuracy (tests/nlu/holdout.yml) overall, diacritic-free and teencode, entity F1 and
  procedure identification, computed with bot.runtime.evaluation's own loading and prediction code but
  without writing anything under reports/;
* the model's size (MB) and the median parse latency (ms per message, the loaded Agent on one TensorFlow
  thread, as the servers run, over the held-out messages).

Then the time breakdown of the baseline's training (from its log, each line stamped with the time since
start: start-up and data validation, the calls of bot.nlu.importer, each component's training), plus the
importer's ``augment`` and the tokenizer over the augmented data timed in this process.

Incremental retraining (``finetune`` and ``finetune_new_intent``, after ``baseline``, in a copy of data/ and
domain.yml under the work folder): ``rasa train --finetune <baseline model> --epoch-fraction 0.2`` after adding
10 examples to an existing intent (timed and evaluated like the others), and after adding a new intent with
its response and rule (its exit code and error are printed: Rasa refuses to fine-tune a model whose labels
changed). The finetunes reuse the baseline's cache, as a retrain on the same machine would.

The CPU of this machine is shared: compare figures of the same run only (ratios are to that run's baseline).
Models stay under the work folder with ``--keep``, otherwise they are deleted at the end.

    python bench/train_bench.py                                   # every option
    python bench/train_bench.py --options baseline,diet40,logreg  # a few (baseline is always trained first)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, vstack

from bot.runtime.model import rasa_env, rasa_executable
from bot.settings import PROJECT_ROOT

WORKDIR = Path("/tmp/trainbench")
TRAIN_TIMEOUT_S = 3600
TF_THREAD_VARS = ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")
# The target: a third of the baseline's time, 0.970 overall and 0.987 diacritic-free.
TARGET_RATIO = 1 / 3
TARGET_OVERALL = 0.970
TARGET_DIACRITIC_FREE = 0.987
INCREMENTAL_TARGET_S = 60.0
# Ten new examples of an existing intent (ask_fee), none of them in data/ or in the held-out set.
NEW_FEE_EXAMPLES = [
    "[đăng ký kết hôn](procedure) với người nước ngoài lệ phí bao nhiêu",
    "[cấp lại hộ chiếu](procedure) bị mất thì phải nộp bao nhiêu tiền",
    "nộp [hồ sơ thường trú](procedure) qua mạng có phải trả phí không",
    "[trích lục kết hôn](procedure) bản sao mỗi bản giá bao nhiêu",
    "cho hỏi [đổi gplx](procedure) hết bao nhiêu tiền",
    "[xác nhận tình trạng hôn nhân](procedure) có mất đồng nào không",
    "làm [giấy khai sinh](procedure) cho con có phải đóng tiền không",
    "[đăng ký hộ kinh doanh](procedure) phí nhà nước thu là bao nhiêu",
    "chi phí [cấp căn cước](procedure) lần đầu là bao nhiêu vậy",
    "[cấp phiếu lý lịch tư pháp](procedure) số 2 tốn bao nhiêu",
]
NEW_INTENT = "ask_bench_parking"
NEW_INTENT_EXAMPLES = [
    "chỗ gửi xe ở bộ phận một cửa ở đâu",
    "đến ủy ban thì để xe máy ở đâu",
    "trụ sở có bãi đỗ ô tô không",
    "gửi xe ở trung tâm hành chính có mất tiền không",
    "đi làm giấy tờ thì đậu xe chỗ nào",
    "ở phường có chỗ để xe không ạ",
    "bãi xe của trung tâm phục vụ hành chính công ở đâu",
    "gửi xe máy ở ubnd xã có miễn phí không",
    "có chỗ đỗ xe cho người khuyết tật không",
    "để xe ở đâu khi đi nộp hồ sơ",
]


class SafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Rasa's LogisticRegressionClassifier, also for messages without any token (hence no features).

    The stock one stacks each message's sentence features: "😂😂😂" (an out_of_scope example) has no token,
    so no features, and training stops with "ValueError: incompatible dimensions for axis 1" (the same
    message would fail a parse). Here such a message gets a row of zeros (the classes' priors).
    """

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        rows = [super(SafeLogisticRegressionClassifier, self)._create_X([m]) for m in messages]
        width = getattr(self.clf, "n_features_in_", None) or max(r.shape[1] for r in rows)
        return vstack([r if r.shape[1] == width else csr_matrix((1, width)) for r in rows], format="csr")


SafeLogisticRegressionClassifier = DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)(SafeLogisticRegressionClassifier)
# The name under which the training subprocess (bench/ on its PYTHONPATH) and Agent.load find it.
SAFE_LOGREG = {"name": "train_bench.SafeLogisticRegressionClassifier"}


@dataclass
class Option:
    """One way to train: a config edit, extra environment variables, or a finetune of the baseline."""

    name: str
    about: str
    edit: Callable[[list[dict[str, Any]]], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    finetune: str | None = None  # "examples" or "new_intent"
    default: bool = True  # part of a run without --options


def _diet(pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in pipeline if c["name"] == "DIETClassifier")


def _set_diet(**changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    def edit(pipeline: list[dict[str, Any]]) -> None:
        _diet(pipeline).update(changes)

    return edit


def _replace_diet(*components: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    def edit(pipeline: list[dict[str, Any]]) -> None:
        i = pipeline.index(_diet(pipeline))
        pipeline[i : i + 1] = [copy.deepcopy(c) for c in components]

    return edit


def _logreg_with_lookup(pipeline: list[dict[str, Any]]) -> None:
    _replace_diet(SAFE_LOGREG)(pipeline)
    next(c for c in pipeline if c["name"] == "RegexEntityExtractor")["use_lookup_tables"] = True


def _diet_entities_only(**changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    """LogisticRegression for intents, DIET (with ``changes``) for the entities only."""

    def edit(pipeline: list[dict[str, Any]]) -> None:
        diet = copy.deepcopy(_diet(pipeline))
        diet.update(intent_classification=False, **changes)
        _replace_diet(SAFE_LOGREG, diet)(pipeline)

    return edit


OPTIONS = [
    Option("baseline", "config.yml as is (DIET 100 epochs)"),
    Option("diet60", "DIET 60 epochs", _set_diet(epochs=60)),
    Option("diet40", "DIET 40 epochs", _set_diet(epochs=40)),
    Option(
        "diet30_b64",
        "DIET 30 epochs, batch 64-128, learning rate 0.002",
        _set_diet(epochs=30, batch_size=[64, 128], learning_rate=0.002),
    ),
    Option(
        "diet20_b64",
        "DIET 20 epochs, batch 64-128, learning rate 0.003",
        _set_diet(epochs=20, batch_size=[64, 128], learning_rate=0.003),
    ),
    Option(
        "diet40_b128",
        "DIET 40 epochs, batch 128-256, learning rate 0.003",
        _set_diet(epochs=40, batch_size=[128, 256], learning_rate=0.003),
    ),
    Option("tf1", "baseline, TF intra/inter-op threads 1", env=dict.fromkeys(TF_THREAD_VARS, "1")),
    Option("tf2", "baseline, TF intra/inter-op threads 2", env=dict.fromkeys(TF_THREAD_VARS, "2")),
    Option(
        "logreg_stock",
        "Rasa's LogisticRegressionClassifier instead of DIET (fails on a token-less example)",
        _replace_diet({"name": "LogisticRegressionClassifier"}),
        default=False,
    ),
    Option(
        "logreg", "LogisticRegression (token-safe) instead of DIET: no statistical entities", _replace_diet(SAFE_LOGREG)
    ),
    Option(
        "logreg_lookup",
        "logreg + RegexEntityExtractor on the procedure lookup table",
        _logreg_with_lookup,
        default=False,
    ),
    Option(
        "logreg_diet30ent",
        "logreg intents + DIET entities only, 30 epochs, batch 64-128, learning rate 0.002",
        _diet_entities_only(epochs=30, batch_size=[64, 128], learning_rate=0.002),
    ),
    Option("finetune", "baseline + 10 ask_fee examples, --finetune --epoch-fraction 0.2", finetune="examples"),
    Option("finetune_new_intent", "baseline + a new intent/response/rule, --finetune", finetune="new_intent"),
]
BY_NAME = {o.name: o for o in OPTIONS}


@dataclass
class Result:
    """What one option's training and evaluation gave."""

    option: Option
    seconds: float = 0.0
    returncode: int = 0
    model: Path | None = None
    log: list[tuple[float, str]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def write_config(option: Option, path: Path) -> Path:
    """config.yml with ``option``'s edit applied, written to ``path``."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    if option.edit:
        option.edit(config["pipeline"])
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _append_examples(nlu_file: Path, intent: str, examples: list[str]) -> None:
    """Add ``examples`` under ``intent`` in ``nlu_file`` (text edit, so the file's other content is untouched)."""
    text = nlu_file.read_text(encoding="utf-8")
    head = f"- intent: {intent}\n  examples: |\n"
    assert head in text, f"{intent} not in {nlu_file}"
    lines = "".join(f"    - {e}\n" for e in examples)
    nlu_file.write_text(text.replace(head, head + lines, 1), encoding="utf-8")


def prepare_finetune_project(kind: str, root: Path) -> tuple[Path, Path]:
    """A copy of data/ and domain.yml under ``root`` with the change of ``kind``; returns (data, domain)."""
    data, domain = root / "data", root / "domain.yml"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(PROJECT_ROOT / "data", data)
    shutil.copy2(PROJECT_ROOT / "domain.yml", domain)
    if kind == "examples":
        _append_examples(data / "nlu" / "fees.yml", "ask_fee", NEW_FEE_EXAMPLES)
        return data, domain
    nlu = {
        "version": "3.1",
        "nlu": [{"intent": NEW_INTENT, "examples": "".join(f"- {e}\n" for e in NEW_INTENT_EXAMPLES)}],
    }
    rules = {
        "version": "3.1",
        "rules": [{"rule": "bench parking", "steps": [{"intent": NEW_INTENT}, {"action": f"utter_{NEW_INTENT}"}]}],
    }
    (data / "nlu" / "bench_parking.yml").write_text(yaml.safe_dump(nlu, allow_unicode=True), encoding="utf-8")
    (data / "bench_parking_rules.yml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    text = domain.read_text(encoding="utf-8")
    text = text.replace("intents:\n", f"intents:\n  - {NEW_INTENT}\n", 1)
    response = f'  utter_{NEW_INTENT}:\n    - text: "Dạ, anh/chị hỏi cán bộ bảo vệ ở cổng ạ."\n'
    text = text.replace("responses:\n", "responses:\n" + response, 1)
    domain.write_text(text, encoding="utf-8")
    return data, domain


def train(option: Option, workdir: Path, baseline: Result | None) -> Result:
    """Run ``rasa train`` for ``option`` in its own folder and cache; stamp every log line."""
    folder = workdir / option.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result = Result(option)
    env = rasa_env()
    env["TQDM_DISABLE"] = "1"
    for var in TF_THREAD_VARS:  # this process runs on one thread: a training uses TensorFlow's default
        env.pop(var, None)
    env.update(option.env)
    env["RASA_CACHE_DIRECTORY"] = str(folder / "cache")
    # The training process finds SafeLogisticRegressionClassifier as train_bench.SafeLogisticRegressionClassifier.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parent), env.get("PYTHONPATH")) if p)
    config, data, domain = folder / "config.yml", PROJECT_ROOT / "data", PROJECT_ROOT / "domain.yml"
    extra: list[str] = []
    if option.finetune:
        if baseline is None or baseline.model is None:
            result.error, result.returncode = "needs a trained baseline in the same run", -1
            return result
        data, domain = prepare_finetune_project(option.finetune, folder)
        # A retrain on the same machine finds the cache of the previous training (when it is in workdir).
        env["RASA_CACHE_DIRECTORY"] = str(workdir / "baseline" / "cache")
        extra = ["--finetune", str(baseline.model), "--epoch-fraction", "0.2"]
    write_config(option, config)
    cmd = [
        rasa_executable(),
        "train",
        "--config",
        str(config),
        "--domain",
        str(domain),
        "--data",
        str(data),
        "--out",
        str(folder),
        "--fixed-model-name",
        "model",
        *extra,
    ]
    print(f">> {option.name}: {option.about}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with (folder / "train.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            at = time.perf_counter() - started
            result.log.append((at, line.rstrip("\n")))
            log.write(f"{at:8.2f} {line}")
            if at > TRAIN_TIMEOUT_S:
                proc.kill()
        result.returncode = proc.wait()
    result.seconds = time.perf_counter() - started
    model = folder / "model.tar.gz"
    if result.returncode == 0 and model.exists():
        result.model = model
    else:
        errors = [ANSI.sub("", t).strip() for _, t in result.log if re.search(r"Error|Exception|error:|Cannot", t)]
        result.error = " | ".join(dict.fromkeys(errors[-4:])) or f"exit code {result.returncode}, no model"
    return result


def evaluate(model: Path) -> dict[str, Any]:
    """Held-out figures with bot.runtime.evaluation's own loading and prediction code, no reports written."""
    from rasa.core.agent import Agent

    from bot.runtime import evaluation

    samples = evaluation.load_samples()
    latencies: list[float] = []
    parse = Agent.parse_message

    async def timed(self: Agent, message_data: str) -> dict[str, Any]:
        started = time.perf_counter()
        out = await parse(self, message_data)
        latencies.append((time.perf_counter() - started) * 1000)
        return out

    with mock.patch.object(Agent, "parse_message", timed):
        asyncio.run(evaluation._predict(model, samples))
    evaluation._identify_procedures(samples)
    expected = yaml.safe_load(evaluation.HOLDOUT_PROCEDURES.read_text(encoding="utf-8")) or {}
    out = {"overall": evaluation._intent_metrics(samples)}
    for subset in ("diacritic_free", "teencode"):
        out[subset] = evaluation._intent_metrics([s for s in samples if subset in s.subsets])
    out["entity_f1"] = evaluation._entity_metrics(samples)["overall"]["f1"]
    out["procedure"] = evaluation._procedure_accuracy(samples, expected)["accuracy"]
    out["latency_ms"] = statistics.median(latencies[1:])  # the first parse builds TensorFlow's graph
    out["size_mb"] = model.stat().st_size / 1e6
    return out


HEADER = (
    f"{'option':<20} {'train s':>8} {'ratio':>6} {'acc':>6} {'no-diac':>7} {'teencode':>8} {'fallbk':>6} "
    f"{'ent F1':>6} {'proc':>6} {'MB':>6} {'parse ms':>8}  target"
)


def row(r: Result, base: float | None) -> str:
    """One option's line of the table; the ratio is to the baseline of this run."""
    ratio = f"{r.seconds / base:.2f}" if base else "-"
    if not r.metrics:
        return f"{r.option.name:<20} {r.seconds:8.1f} {ratio:>6}  failed (exit code {r.returncode})"
    m = r.metrics
    if r.option.finetune:
        meets = r.seconds <= INCREMENTAL_TARGET_S
    else:
        meets = (
            bool(base)
            and r.seconds <= base * TARGET_RATIO
            and m["overall"]["accuracy"] >= TARGET_OVERALL
            and m["diacritic_free"]["accuracy"] >= TARGET_DIACRITIC_FREE
        )
    return (
        f"{r.option.name:<20} {r.seconds:8.1f} {ratio:>6} {m['overall']['accuracy']:6.3f} "
        f"{m['diacritic_free']['accuracy']:7.3f} {m['teencode']['accuracy']:8.3f} "
        f"{m['overall']['fallback_rate']:6.1%} {m['entity_f1']:6.3f} {m['procedure']:6.3f} "
        f"{m['size_mb']:6.1f} {m['latency_ms']:8.1f}  {'yes' if meets else 'no'}"
    )


def print_table(results: list[Result], base: float | None) -> None:
    """The table of every option, then the errors."""
    print()
    print(HEADER)
    for r in results:
        print(row(r, base))
    n = next((r.metrics for r in results if r.metrics), {})
    if n:
        print(
            f"(held-out n: overall {n['overall']['n']}, diacritic-free {n['diacritic_free']['n']}, "
            f"teencode {n['teencode']['n']}; acc = intent accuracy, fallbk = share below the fallback threshold, "
            f"ent F1 = entity F1, proc = procedure identification; target: ≤ {TARGET_RATIO:.2f} × baseline, "
            f"≥ {TARGET_OVERALL} overall, ≥ {TARGET_DIACRITIC_FREE} diacritic-free; "
            f"finetune: ≤ {INCREMENTAL_TARGET_S:.0f} s)"
        )
    for r in results:
        if r.error:
            print(f"{r.option.name}: exit code {r.returncode}: {r.error}")


ANSI = re.compile(r"\x1b\[[0-9;]*m")
EPOCH = re.compile(r"Epochs:.*?(\d+)/(\d+) \[(?:(\d+):)?(\d+):(\d+)")
START = re.compile(r"Starting to train component '(\w+)'")
FINISH = re.compile(r"Finished training component '(\w+)'")


def breakdown(result: Result) -> None:
    """Where the time of one training went, from its stamped log."""
    log = result.log
    first = next((t for t, line in log if "rasa.cli.train" in line), 0.0)
    derived = [t for t, line in log if "bot.nlu.importer" in line and "Derived" in line]
    starts = [(t, m.group(1)) for t, line in log if (m := START.search(line))]
    finishes = [(t, m.group(1)) for t, line in log if (m := FINISH.search(line))]
    print(f"\nTime breakdown of {result.option.name} ({result.seconds:.1f} s in all, from its stamped log):")
    print(f"  {first:7.1f} s  Python and Rasa imports (to the first log line)")
    if starts:
        print(
            f"  {starts[0][0] - first:7.1f} s  data validation, bot.nlu.importer ({len(derived)} calls), graph "
            f"building, tokenizing the training data (to the first component's training)"
        )
    trained = 0.0
    for (t0, name), (t1, _) in zip(starts, finishes, strict=False):
        trained += t1 - t0
        if t1 - t0 >= 0.5:
            print(f"  {t1 - t0:7.1f} s  training {name}")
        if name == "DIETClassifier":
            epochs = _epochs(line for t, line in log if t0 <= t <= t1)
            if epochs:
                total, first, n = epochs
                rest = total - first
                print(
                    f"  {'':7}    of which {t1 - t0 - total:.1f} s before the first epoch, first epoch {first:.0f} s "
                    f"(graph tracing), {n - 1} more epochs {rest:.0f} s ({rest / max(n - 1, 1):.2f} s each)"
                )
    if starts and finishes:
        between = finishes[-1][0] - starts[0][0] - trained
        print(f"  {between:7.1f} s  between the components (featurizing the training data for the next one)")
        print(f"  {result.seconds - finishes[-1][0]:7.1f} s  after the last component (packing the model, exit)")


def _epochs(lines: Any) -> tuple[float, float, int] | None:
    """From DIET's progress bar: (seconds of all epochs, seconds of the first, number of epochs)."""
    seen: dict[int, float] = {}
    for line in lines:
        for m in EPOCH.finditer(line):
            done, hours, minutes, secs = int(m.group(1)), int(m.group(3) or 0), int(m.group(4)), int(m.group(5))
            seen[done] = hours * 3600 + minutes * 60 + secs
    if 1 not in seen or len(seen) < 2:
        return None
    last = max(seen)
    return seen[last], seen[1], last


def in_process_costs() -> None:
    """bot.nlu.importer's augment and the tokenizer over the augmented data, timed in this process."""
    from rasa.shared.importers.rasa import RasaFileImporter
    from rasa.shared.nlu.constants import TEXT

    from bot.nlu import importer
    from bot.nlu.tokenizer import VietnameseTokenizer

    files = RasaFileImporter(
        str(PROJECT_ROOT / "config.yml"), str(PROJECT_ROOT / "domain.yml"), [str(PROJECT_ROOT / "data")]
    )
    started = time.perf_counter()
    raw = files.get_nlu_data("vi")
    read = time.perf_counter() - started
    started = time.perf_counter()
    data = importer.augment(raw)
    augment = time.perf_counter() - started
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"][0]
    tokenizer = VietnameseTokenizer({**VietnameseTokenizer.get_default_config(), **config})
    started = time.perf_counter()
    for message in data.training_examples:
        tokenizer.tokenize(message, TEXT)
    tokenize = time.perf_counter() - started
    print(
        f"  in this process: reading data/ {read:.1f} s, augment {augment:.1f} s "
        f"({len(raw.intent_examples)} → {len(data.intent_examples)} examples), "
        f"tokenizing them {tokenize:.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--options",
        default=",".join(o.name for o in OPTIONS if o.default),
        help=f"comma-separated, from: {', '.join(BY_NAME)} (default: all but logreg_stock and logreg_lookup)",
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR, help="where models and caches go")
    parser.add_argument("--keep", action="store_true", help="keep the models and caches")
    parser.add_argument(
        "--baseline-model", type=Path, help="an existing baseline model for the finetune options (no baseline row)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.options.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown option(s): {', '.join(unknown)}")
    if args.baseline_model:
        names = [n for n in names if n != "baseline"]
    elif "baseline" in names or any(BY_NAME[n].finetune for n in names):
        names = ["baseline", *[n for n in names if n != "baseline"]]
    workdir = args.workdir.resolve()
    if workdir == PROJECT_ROOT or PROJECT_ROOT in workdir.parents:
        parser.error("--workdir must be outside the project (models/ and the caches are not ours to write)")

    # Parse latency on one TensorFlow thread, as the servers run (rasa_env(serving=True)).
    for var in TF_THREAD_VARS:
        os.environ[var] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()

    results: list[Result] = []
    baseline = Result(BY_NAME["baseline"], model=args.baseline_model.resolve()) if args.baseline_model else None
    base_seconds: float | None = None
    print(HEADER, flush=True)
    for name in names:
        result = train(BY_NAME[name], workdir, baseline)
        if name == "baseline":
            baseline = result
            base_seconds = result.seconds if result.model else None
        if result.model:
            result.metrics = evaluate(result.model)
        results.append(result)
        print(row(result, base_seconds), flush=True)
    print_table(results, base_seconds)
    trained_baseline = next((r for r in results if r.option.name == "baseline"), None)
    if trained_baseline is not None:
        breakdown(trained_baseline)
        in_process_costs()
    for r in results:
        if r.option.finetune and r.log:
            breakdown(r)
    if not args.keep:
        for name in names:
            shutil.rmtree(workdir / name, ignore_errors=True)
    return 0 if all(r.returncode == 0 or r.option.finetune == "new_intent" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
