"""Training data: records in the authors' schema (`load_records`), the recipe §8 prompt (`build_prompt`) and
the TRL dataset (`to_hf_dataset`)."""

from g2rpo.data.hf import bound_pixels, load_image, record_to_row, to_hf_dataset
from g2rpo.data.prompts import PROBLEM_TYPE_TAILS, THINK_INSTRUCTION, build_prompt, prompt_messages
from g2rpo.data.records import LoadedRecords, Record, RecordError, load_records
from g2rpo.data.task_types import TASK_TYPE_ALIASES, canonical_task

__all__ = [
    "PROBLEM_TYPE_TAILS",
    "TASK_TYPE_ALIASES",
    "THINK_INSTRUCTION",
    "LoadedRecords",
    "Record",
    "RecordError",
    "bound_pixels",
    "build_prompt",
    "canonical_task",
    "load_image",
    "load_records",
    "prompt_messages",
    "record_to_row",
    "to_hf_dataset",
]
