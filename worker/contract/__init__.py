"""The contract between the studio and a running job, one source of truth for both halves.

- ``worker.contract.jobdir``: every file of the job directory, who writes it, the atomic-write helper.
- ``worker.contract.events``: the event log (envelope, kinds, writer ``EventLog``, reader ``EventStream``).
- ``worker.contract.jobspec``: the job spec ``job.json`` and its validator (errors name the field path).

Standard library only, so the studio imports it without torch. The names below are re-exported for callers that
need only one or two of them.
"""

from worker.contract.events import *  # noqa: F401,F403
from worker.contract.events import EVENT_KINDS, EVENT_VERSION, REQUIRED_FIELDS  # noqa: F401
from worker.contract.jobdir import *  # noqa: F401,F403
from worker.contract.jobspec import *  # noqa: F401,F403
