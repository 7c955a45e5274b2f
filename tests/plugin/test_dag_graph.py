"""The DAG picture places tasks by dependency depth and writes a PNG."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from pawflow.dag_graph import layout, render


def diamond():
    with DAG(dag_id="diamond", schedule=None) as dag:
        start, left, right, end = (EmptyOperator(task_id=name) for name in ("start", "left", "right", "end"))
        start >> [left, right] >> end
        start >> end
    return dag


def test_columns_are_longest_paths_from_the_root():
    positions = layout(diamond())
    assert positions["start"][0] == 0
    assert positions["left"][0] == positions["right"][0] == 1
    assert positions["end"][0] == 2
    assert {positions["left"][1], positions["right"][1]} == {0, 1}


def test_render_writes_a_png(tmp_path):
    path = render(diamond(), tmp_path / "graph" / "diamond.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
