"""Recipes validate themselves and name the file and key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_pipelines.config import Bucket, Recipe, RecipeError, load_recipe, with_overrides


def test_missing_recipe_gives_working_defaults(tmp_path: Path) -> None:
    recipe = load_recipe(tmp_path)
    assert recipe == Recipe()
    assert recipe.dataset.buckets[0].label == "64x64x17"


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "ltx.yaml").write_text("training:\n  stepz: 10\n")
    with pytest.raises(RecipeError, match=r"ltx\.yaml: training\.stepz: Extra inputs are not permitted"):
        load_recipe(tmp_path)


def test_python_tags_are_not_executed(tmp_path: Path) -> None:
    (tmp_path / "ltx.yaml").write_text("training: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(RecipeError, match=r"ltx\.yaml: not valid YAML"):
        load_recipe(tmp_path)


@pytest.mark.parametrize(("field", "value"), [("width", 48), ("height", 0), ("frames", 16)])
def test_bucket_geometry_is_checked(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=r"multiple of 32|8k\+1"):
        Bucket(**{field: value})


def test_overrides_apply_only_set_values() -> None:
    spec = Recipe().training
    changed = with_overrides(spec, {"steps": 7, "learning_rate": None})
    assert changed.steps == 7 and changed.learning_rate == spec.learning_rate
