"""`--ta-files` (used by `make batch`): the notebook rendered in the sandboxed child and the answer's images. Graded
as the batch grades, through grader.serve (a warm start's forked children)."""

import base64

from conftest import FORWARD, cell_number, edit_cell, grade, save, solution

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_ta_files_hold_the_rendered_notebook_and_the_answer_image(tmp_path):
    nb = edit_cell(solution(), FORWARD, "return torch.sigmoid(z2)", "return undefined_name")
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Answer:**"))
    answer.source = "**Answer:** see the plot\n\n![plot](attachment:plot.png)"
    answer.attachments = {"plot.png": {"image/png": base64.b64encode(PNG).decode()}}
    folder = save(nb, tmp_path / "submission").parent
    ta = tmp_path / "ta"
    facts = grade(folder, tmp_path / "results.json", "--ta-files", str(ta))["extra_data"]
    assert facts["by_hand"]["images"] == ["answer-1.png"]
    assert (ta / "answer-1.png").read_bytes() == PNG
    page = (ta / "notebook.html").read_text()
    first_call = cell_number(nb, "y_hat = forward(X)")  # where the NameError is raised
    assert "undefined_name" in page and f"cell {first_call} did not finish" in page
    assert "<script" not in page.lower()
