"""Declarative automation: an asset partition reruns when the data version of an input changed (not merely when
an input was re-materialized to the same content), once nothing upstream is missing or running and every upstream
blocking check has passed."""

import dagster as dg

AC = dg.AutomationCondition


def on_input_data_change() -> dg.AutomationCondition:
    """Request the partition when it is new, or when one of its inputs has a new data version since the last tick;
    wait while an input is missing or in progress, or an upstream blocking check has not passed."""
    inputs_changed = AC.any_deps_match(AC.data_version_changed()).with_label("any_input_data_version_changed")
    return (
        (AC.newly_missing() | inputs_changed).since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & AC.all_deps_blocking_checks_passed()
    ).with_label("on_input_data_change")
