"""The Python runtime inside one Lambda execution environment: import the handler once, then serve invocations.

Run as a script (never imported by the server) with the deployment package as working directory. It speaks
newline-delimited JSON: invocations arrive on stdin, log lines and results leave on the descriptor that was
stdout when the process started. Everything the handler writes to ``sys.stdout``/``sys.stderr`` or through
``logging`` becomes a log frame, so the server can put it into CloudWatch Logs as the AWS runtime does.
"""

import importlib
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback

_FRAME_LOCK = threading.Lock()


class _FrameWriter:
    """Writes protocol frames to the channel the server reads."""

    def __init__(self, stream):
        self._stream = stream

    def send(self, frame):
        data = (json.dumps(frame, default=str) + "\n").encode("utf-8")
        with _FRAME_LOCK:
            self._stream.write(data)
            self._stream.flush()


class _LogStream:
    """A text stream whose complete lines become log frames (what print() and stderr do in Lambda)."""

    def __init__(self, frames):
        self._frames = frames
        self._pending = ""

    def write(self, text):
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._frames.send({"type": "log", "line": line})
        return len(text)

    def flush(self):
        if self._pending:
            self._frames.send({"type": "log", "line": self._pending})
            self._pending = ""

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


class _RequestIdFilter(logging.Filter):
    """Adds the current request id to log records, as the AWS runtime's handler does."""

    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


class LambdaContext:
    """The context object handed to the handler, with the attributes and method the AWS runtime provides."""

    def __init__(self, invocation):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = invocation["invoked_function_arn"]
        self.aws_request_id = invocation["request_id"]
        self.identity = None
        self.client_context = invocation.get("client_context")
        self._deadline_ms = invocation["deadline_ms"]

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


def _error(error_type, message, stack=None, request_id=""):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def _load_handler(handler_string):
    """Import ``module.function`` the way the AWS Python runtime does, with its error types and messages."""
    module_name, _, function_name = handler_string.rpartition(".")
    if not module_name or not function_name:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler_string}': not enough values to unpack (expected 2, got 1)")
    module_path = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}")
    except SyntaxError as exc:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {exc}")
    except Exception as exc:  # the handler module's own init code failed
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, _error(type(exc).__name__, str(exc), stack)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_path}'")
    return handler, None


def _max_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _serve(frames, requests, handler, request_filter, log_stream):
    for raw in requests:
        if not raw.strip():
            continue
        invocation = json.loads(raw)
        request_id = invocation["request_id"]
        request_filter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace_id", "")
        try:
            event = json.loads(invocation["payload"]) if invocation["payload"] else {}
        except json.JSONDecodeError as exc:
            frames.send({"type": "error", "max_memory_mb": _max_memory_mb(), "error": _error(
                "Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", request_id=request_id)})
            continue
        try:
            result = handler(event, LambdaContext(invocation))
        except Exception as exc:
            entries = traceback.extract_tb(exc.__traceback__)[1:]
            stack = traceback.format_list(entries)
            log_stream.flush()
            message = str(exc)
            frames.send({"type": "log", "line": f"[ERROR] {type(exc).__name__}: {message}\nTraceback (most recent call last):\n{''.join(stack)}".rstrip("\n")})
            frames.send({"type": "error", "max_memory_mb": _max_memory_mb(),
                         "error": _error(type(exc).__name__, message, stack, request_id)})
            continue
        log_stream.flush()
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            frames.send({"type": "error", "max_memory_mb": _max_memory_mb(), "error": _error(
                "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id=request_id)})
            continue
        frames.send({"type": "result", "payload": payload, "max_memory_mb": _max_memory_mb()})


def _layer_paths(layers_root: str) -> list[str]:
    """Where Lambda's Python runtime finds layers' code in ``/opt``, in its order, for the folder standing in."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [os.path.join(layers_root, "python", "lib", version, "site-packages"), os.path.join(layers_root, "python")]


def main():
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[0] = task_root
    if len(sys.argv) == 3 and sys.argv[1] == "--layers":
        sys.path[1:1] = _layer_paths(sys.argv[2])
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    frames = _FrameWriter(channel)
    log_stream = _LogStream(frames)
    sys.stdout = log_stream
    sys.stderr = log_stream

    request_filter = _RequestIdFilter()
    log_handler = logging.StreamHandler(log_stream)
    log_handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    log_handler.formatter.converter = time.gmtime
    log_handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers = [log_handler]
    root.setLevel(logging.WARNING)

    started = time.perf_counter()
    handler, init_error = _load_handler(os.environ["_HANDLER"])
    log_stream.flush()
    if init_error is not None:
        frames.send({"type": "init_error", "error": init_error})
        return 1
    frames.send({"type": "ready", "init_ms": (time.perf_counter() - started) * 1000.0})
    _serve(frames, sys.stdin, handler, request_filter, log_stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
