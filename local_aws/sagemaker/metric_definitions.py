"""MetricDefinitions: regexes applied to a training job's log, as SageMaker applies them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from local_aws.moto_seam import utcnow


def metric_values(regex: str, lines: Iterable[str]) -> list[float]:
    """Every value the regex's first group captures, in log order (unparseable captures skipped)."""
    pattern = re.compile(regex)
    values = []
    for line in lines:
        for match in pattern.finditer(line):
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError, TypeError):
                continue
            if math.isfinite(value):
                values.append(value)
    return values


def final_metric_data(definitions: list[dict[str, str]], lines: list[str]) -> list[dict[str, Any]]:
    """FinalMetricDataList: the last value each definition found."""
    now = utcnow()
    result = []
    for definition in definitions or []:
        values = metric_values(definition["Regex"], lines)
        if values:
            result.append({"MetricName": definition["Name"], "Value": values[-1], "Timestamp": now})
    return result
