"""Rewrite samples_hotmess_questions.jsonl with a real lm-evaluation-harness run.

Not a test: run by hand, with lm-eval installed (``pip install 'lm-eval[api]==0.4.13'``; its
``lm_eval`` command on PATH or named by LM_EVAL). It serves the questions of
``tests/ingest/_sampling_server.py`` on 127.0.0.1 and runs a local task with ``repeats: 4``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent / "ingest")]

from _sampling_server import ANSWERS, TARGETS, SamplingServer  # noqa: E402

TASK = """task: hotmess_questions
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
repeats: 4
generation_kwargs:
  until: ["\\n"]
  do_sample: true
  temperature: 1.0
metric_list:
  - metric: exact_match
filter_list:
  - name: "none"
    filter:
      - function: "take_first"
"""


def main() -> None:
    work = Path(tempfile.mkdtemp())
    data = work / "data.jsonl"
    rows = [json.dumps({"question": q, "answer": TARGETS[q]}) for q in ANSWERS]
    data.write_text("\n".join(rows) + "\n")
    (work / "tasks").mkdir()
    (work / "tasks" / "hotmess_questions.yaml").write_text(TASK.format(data=data))
    with SamplingServer() as server:
        args = (
            f"model=fake,base_url={server.openai_base_url}/chat/completions,"
            "tokenizer_backend=None,num_concurrent=1,max_retries=1"
        )
        command = [os.environ.get("LM_EVAL", "lm_eval"), "--model", "local-chat-completions"]
        command += ["--model_args", args, "--tasks", "hotmess_questions"]
        command += ["--include_path", str(work / "tasks"), "--apply_chat_template"]
        command += ["--log_samples", "--output_path", str(work / "out")]
        env = {**os.environ, "OPENAI_API_KEY": "unused", "HF_DATASETS_OFFLINE": "1"}
        subprocess.run(command, env=env, check=True)
    (written,) = (work / "out").rglob("samples_hotmess_questions_*.jsonl")
    shutil.copy(written, HERE / "samples_hotmess_questions.jsonl")


if __name__ == "__main__":
    main()
