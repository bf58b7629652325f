"""Recovery plans for a bad production deployment: rollback, hotfix, revert, incident."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster_project.sample.texts import hotfix_title, slug

if TYPE_CHECKING:
    from dagster_project.sample.deployments import ServiceState
    from dagster_project.sample.simulation import RepoSimulation

MINUTE = 60
_MODES = ("rollback", "hotfix", "revert", "incident")
_MODE_WEIGHTS = (4, 3, 2, 2)
# Chance that a bad deployment also raises a production incident, per recovery mode.
_INCIDENT_CHANCE = {"rollback": 0.7, "hotfix": 0.8, "revert": 0.4, "incident": 1.0}


def plan_failure(
    sim: RepoSimulation, state: ServiceState, finished: int, deployment_id: str
) -> None:
    """Schedule the recovery of a bad deployment and the incident it raises.

    Rollback, hotfix and revert freeze the service's normal deploys until the
    fix is out, so the next production deployment is the recovery itself.
    """
    rng = sim.rng
    name = state.profile.name
    mode = rng.choices(_MODES, weights=_MODE_WEIGHTS)[0]
    culprit = rng.choice(state.last_shipped)
    revert_title = (f'Revert "{culprit.subject}"', f"revert-{slug(culprit.subject)}", ["revert"])
    alert = finished + rng.randint(2 * MINUTE, 25 * MINUTE)
    if mode == "rollback":
        state.frozen = True
        rolled_back = finished + rng.randint(6 * MINUTE, 35 * MINUTE)
        sim.schedule(rolled_back, sim.deploy, state, "rollback")
        opened = rolled_back + rng.randint(10 * MINUTE, 60 * MINUTE)
        merged = opened + rng.randint(20 * MINUTE, 120 * MINUTE)
        sim.open_fix_pr(opened, merged, revert_title, name, "unfreeze", reverts=culprit)
        restored = rolled_back + rng.randint(8 * MINUTE, 20 * MINUTE)
    elif mode == "hotfix":
        state.frozen = True
        opened = finished + rng.randint(10 * MINUTE, 45 * MINUTE)
        merged = opened + rng.randint(15 * MINUTE, 80 * MINUTE)
        sim.open_fix_pr(opened, merged, hotfix_title(rng), name, "deploy_fix")
        restored = merged + rng.randint(20 * MINUTE, 40 * MINUTE)
    elif mode == "revert":
        state.frozen = True
        opened = finished + rng.randint(15 * MINUTE, 90 * MINUTE)
        merged = opened + rng.randint(10 * MINUTE, 60 * MINUTE)
        sim.open_fix_pr(opened, merged, revert_title, name, "deploy_fix", reverts=culprit)
        restored = merged + rng.randint(20 * MINUTE, 40 * MINUTE)
    else:
        restored = alert + int(
            rng.lognormvariate(0.0, 0.8) * state.profile.restore_minutes_median * MINUTE
        )
    if state.profile.restore_minutes_median < 10:
        # A kill switch turns the change off long before the code fix ships.
        restored = alert + int(
            rng.lognormvariate(0.0, 0.2) * state.profile.restore_minutes_median * MINUTE
        )
    restored = max(restored, alert + 2 * MINUTE)
    if rng.random() >= _INCIDENT_CHANCE[mode]:
        return
    link = rng.random()
    sim.incidents.open(
        name,
        alert,
        restored,
        caused_by=deployment_id if link < 0.65 else None,
        root_cause_sha=culprit.sha if 0.55 <= link < 0.85 else None,
    )
