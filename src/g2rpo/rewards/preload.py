"""Imported once by the forkserver of :class:`g2rpo.rewards.BatchScorer` before it forks any worker.

Importing this module loads every built-in verifier's dependencies and runs each verifier once (math-verify
builds its grammars on first use), so that forked workers — including replacements for workers killed at the
time limit — start warm in milliseconds instead of re-importing sympy and nltk for seconds.
"""

from g2rpo.rewards.worker import warm_up

warm_up()
