"""Object ids with OpenAI's prefixes (`asst_`, `thread_`, `msg_`, `file-`, `resp_`, `fc_`...) and
unix-second clocks."""

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits

PREFIXES = {
    "assistant": "asst_",
    "thread": "thread_",
    "thread.message": "msg_",
    "thread.run": "run_",
    "thread.run.step": "step_",
    "file": "file-",
    "vector_store": "vs_",
    "vector_store.file_batch": "vsfb_",
    "call": "call_",
    "response": "resp_",
    "conversation": "conv_",
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "file_search_call": "fs_",
    "code_interpreter_call": "ci_",
    "container": "cntr_",
    "container.file": "cfile_",
}


def new_id(kind: str) -> str:
    """A fresh id for an object of `kind` (its OpenAI `object` name)."""
    return PREFIXES[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def now() -> int:
    return int(time.time())
