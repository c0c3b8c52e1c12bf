"""Engine ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint, e.g. ``vllm serve`` or a hosted API.

Standard library only (``urllib`` and a thread pool). ``openai.concurrency`` requests are in flight at once, so
the endpoint (which batches internally) stays busy; results come back as they finish. Each request is::

    POST {base_url}/chat/completions
    {"model": model, "messages": conversation, "temperature": ..., "top_p": ..., "max_tokens": ...,
     ["seed": ...,] **extra_body}

where ``conversation`` is :func:`beeformer.describe.prompt.conversation` (the prefill is its last, assistant
message; servers that can continue it take e.g. ``extra_body: {continue_final_message: true,
add_generation_prompt: false}`` with vLLM). The reply's ``choices[0].message.content`` is the output and
``choices[0].finish_reason`` the finish reason.

Failure rules. A timeout, a connection error, HTTP 408, 409, 425, 429 or 5xx, and a *malformed reply* (not
JSON, or without a string ``choices[0].message.content``) are retried up to ``max_retries`` times with
exponential backoff (a ``Retry-After`` header wins, at most 60 s). Other HTTP errors (400, 401, 404, ...) are
not retried. A request that still fails is a *failed item*: nothing is cached for it, the report lists it, and
the stage stops with an error when there are more than ``allow_failures`` of them (a rerun retries only those).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from beeformer.describe import prompt as prompts
from beeformer.describe.engine import Engine, Request, Result
from beeformer.describe.settings import DescribeError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
MAX_WAIT = 60.0


class _Retryable(Exception):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class _Fatal(Exception):
    pass


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, config):
        super().__init__(config)
        settings = config.openai
        if settings.concurrency < 1:
            raise DescribeError("describe.openai.concurrency must be at least 1")
        if settings.timeout <= 0:
            raise DescribeError("describe.openai.timeout must be positive")
        if settings.max_retries < 0:
            raise DescribeError("describe.openai.max_retries must not be negative")
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self._stop = threading.Event()

    def output_settings(self) -> dict[str, Any]:
        return {"extra_body": self.config.openai.extra_body}

    def payload(self, text: str) -> dict[str, Any]:
        """The JSON body sent for one item."""
        sampling = self.config.sampling
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": prompts.conversation(self.config.prompt, text),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        body.update(self.config.openai.extra_body)
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.config.openai.api_key_env, "") if self.config.openai.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, body: bytes) -> tuple[str, str | None]:
        request = urllib.request.Request(self.url, data=body, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.openai.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = _snippet(error.read() if error.fp is not None else b"")
            if error.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {error.code}: {detail}", _retry_after(error.headers)) from error
            raise _Fatal(f"HTTP {error.code} from {self.url}: {detail}") from error
        except TimeoutError as error:
            raise _Retryable(f"timed out after {self.config.openai.timeout:g} s") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _Retryable(f"timed out after {self.config.openai.timeout:g} s") from error
            raise _Retryable(f"connection failed: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:  # reset, refused, remote closed, bad status line
            raise _Retryable(f"connection failed: {type(error).__name__}: {error}") from error
        return parse_reply(raw)

    def complete(self, text: str) -> tuple[str, str | None]:
        """One item's (output, finish reason), with the retry rules; raises RuntimeError when it fails."""
        settings = self.config.openai
        body = json.dumps(self.payload(text)).encode("utf-8")
        attempt = 0
        while True:
            try:
                return self._post(body)
            except _Fatal as error:
                raise RuntimeError(str(error)) from None
            except _Retryable as error:
                if attempt >= settings.max_retries or self._stop.is_set():
                    raise RuntimeError(f"{error} (after {attempt + 1} attempt(s))") from None
                pause = error.wait if error.wait is not None else settings.backoff * 2**attempt
                pause = min(max(pause, 0.0), MAX_WAIT) * (0.75 + 0.5 * random.random())
                log.debug("openai: %s; retrying in %.2f s", error, pause)
                attempt += 1
                if self._stop.wait(pause):
                    raise RuntimeError(f"{error} (stopped)") from None

    def _one(self, request: Request) -> Result:
        try:
            output, finish = self.complete(request.text)
        except RuntimeError as error:
            return Result(request.key, error=str(error))
        return Result(request.key, output, finish)

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        """Keep ``concurrency`` requests in flight; yield each result as it finishes."""
        self._stop.clear()
        limit = self.config.openai.concurrency
        pending = iter(requests)
        running: set[Future] = set()
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="describe-openai")
        try:
            for request in pending:
                running.add(pool.submit(self._one, request))
                if len(running) >= limit:
                    break
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                for request in pending:
                    running.add(pool.submit(self._one, request))
                    if len(running) >= limit:
                        break
        finally:
            self._stop.set()  # a caller that stops early ends the retries of what is still running
            pool.shutdown(wait=True, cancel_futures=True)


def parse_reply(raw: bytes) -> tuple[str, str | None]:
    """(content, finish_reason) of a chat-completions reply; a malformed reply is retryable."""
    try:
        reply = json.loads(raw)
        choice = reply["choices"][0]
        content = choice["message"]["content"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as error:
        raise _Retryable(f"malformed reply ({type(error).__name__}): {_snippet(raw)}") from error
    if not isinstance(content, str):
        raise _Retryable(f"malformed reply (content is {type(content).__name__}): {_snippet(raw)}")
    finish = choice.get("finish_reason")
    return content, finish if isinstance(finish, str) else None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _snippet(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")
