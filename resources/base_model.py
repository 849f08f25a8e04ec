"""The base model to fine-tune: a preset name, a local diffusers folder or a hub id."""

import dagster as dg

from ltx_pipelines.home import Home
from ltx_pipelines.models.resolve import ResolvedModel, resolve_model


class BaseModelResource(dg.ConfigurableResource):
    """Overrides the recipe's ``base_model`` when ``model`` is set (e.g. ``Lightricks/LTX-Video``)."""

    model: str | None = None
    revision: str | None = None

    def resolve(self, recipe_model: str, home: Home) -> ResolvedModel:
        return resolve_model(self.model or recipe_model, home, revision=self.revision)
