"""Training data: records in the authors' schema (`load_records`), prompt templates (`prompt_text`, recipe §8)
and the TRL dataset (`to_hf_dataset`). Field mapping, limits and templates: ``docs/data.md``."""

from g2rpo.data.hf import bound_pixels, load_image, record_to_row, to_hf_dataset
from g2rpo.data.options import Options, format_options, option_lines, read_options
from g2rpo.data.prompts import (
    PROBLEM_TYPE_TAILS,
    PROMPT_TEMPLATES,
    THINK_INSTRUCTION,
    PromptTemplate,
    PromptTemplateError,
    build_prompt,
    get_prompt_template,
    prompt_messages,
    prompt_text,
    record_messages,
    template_variables,
)
from g2rpo.data.records import LoadedRecords, Record, RecordError, load_records
from g2rpo.data.task_types import AUTHORS_TASK_TYPES, TASK_TYPE_ALIASES, canonical_task

__all__ = [
    "AUTHORS_TASK_TYPES",
    "PROBLEM_TYPE_TAILS",
    "PROMPT_TEMPLATES",
    "TASK_TYPE_ALIASES",
    "THINK_INSTRUCTION",
    "LoadedRecords",
    "Options",
    "PromptTemplate",
    "PromptTemplateError",
    "Record",
    "RecordError",
    "bound_pixels",
    "build_prompt",
    "canonical_task",
    "format_options",
    "get_prompt_template",
    "load_image",
    "load_records",
    "option_lines",
    "prompt_messages",
    "prompt_text",
    "read_options",
    "record_messages",
    "record_to_row",
    "template_variables",
    "to_hf_dataset",
]
