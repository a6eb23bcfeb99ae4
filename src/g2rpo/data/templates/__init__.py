"""Built-in prompt templates as Jinja source text (recipe §8).

They are Python string constants rather than ``.jinja`` files so that every install carries them (the package
ships no data files). Write one to a file to start your own template: ``prompt_template: my_prompt.jinja``.
The variables a template sees are listed in :mod:`g2rpo.data.prompts` and ``docs/data.md``.
"""

from __future__ import annotations

OPENVLTHINKER_V2 = r"""{#- OpenVLThinkerV2's training prompt, byte for byte (recipe §8): the authors' format prompt on the
    stripped problem, their options block, their question template, then their answer tail looked up with the
    problem type exactly as the record writes it (a type without an entry gets no tail). -#}
{{ problem | trim }} You FIRST think about the reasoning process as an internal monologue and then provide the final answer. The reasoning process MUST BE enclosed within <{{ think_tag }}> </{{ think_tag }}> tags. The final answer MUST BE enclosed within <answer> </answer> tags. If your answer includes bounding box coordinate, report bbox coordinates in JSON format with the key as boxes.
{%- if problem_type_as_written == "multiple choice" and options_as_written %}
Options:
{{ options_as_written | join("\n") }}
{%- endif %}
Please answer this question based on the visual content.Provide your thinking process between the <{{ think_tag }}> and </{{ think_tag }}> tags, and then give your final answer between the <answer> and </answer> tags.At the end, you must output the final answer in the format:
<answer><your_answer_here></answer>
{% if problem_type_as_written == "multiple choice" -%}
Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer>...</answer> tags.
Example:
<answer>A</answer>
{%- elif problem_type_as_written == "numerical" -%}
Please provide only the numerical value within the <answer>...</answer> tags.
Example:
<answer>3.14</answer>
{%- elif problem_type_as_written == "OCR" -%}
Please provide only the transcribed text within the <answer>...</answer> tags.
Example:
<answer>Hello World</answer>
{%- elif problem_type_as_written == "open-ended" -%}
Please provide only your text answer within the <answer>...</answer> tags.
Example:
<answer>The capital of France is Paris.</answer>
{%- elif problem_type_as_written == "regression" -%}
Please provide only the numerical value within the <answer>...</answer> tags.
Example:
<answer>42.7</answer>
{%- elif problem_type_as_written == "math" -%}
Please provide only the final result (a number or LaTeX formula) within the <answer>...</answer> tags.
Example:
<answer>$$-\dfrac{3}{2}$$</answer>
{%- elif problem_type_as_written == "spatial grounding" -%}
Please provide only the bounding box as JSON with key 'boxes' within the <answer>...</answer> tags.
Example:
<answer>{"boxes": [35, 227, 437, 932]}</answer>
{%- endif %}
"""
"""The authors' released prompt (``openvlthinker_v2``). ``think_tag`` is ``thinking`` in their release."""

BUILTIN_JINJA: dict[str, str] = {"openvlthinker_v2": OPENVLTHINKER_V2}
"""Built-in template name → Jinja source."""
