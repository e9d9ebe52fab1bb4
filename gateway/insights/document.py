"""A report as one JSON-ready document: what `tightrope insights --json` prints, the HTML shows."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from gateway.insights.dormant import DormantReport
from gateway.insights.figures import ListFigures
from gateway.insights.findings import Insights
from gateway.settings import Settings


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def document(
    lists: ListFigures, insights: Insights, dormant: DormantReport, settings: Settings
) -> dict[str, Any]:
    period = lists.period
    return {
        "period": {"since": _when(period.since), "until": _when(period.until)},
        "settings": {
            "attribution_window_days": settings.attribution_window_days,
            "min_customers": settings.insights_min_customers,
            "min_subjects": settings.insights_min_subjects,
            "holdout_share": settings.holdout_share,
            "experiment": settings.experiment.model_dump() if settings.experiment else None,
            "dormant_days": settings.dormant_days,
        },
        "performance": [{**asdict(r), "ctr": r.ctr, "rpm": r.rpm} for r in lists.rows],
        "lift": [
            {
                "comparison": lift.comparison,
                "experiment": lift.experiment,
                "status": lift.status,
                "needed": lift.needed,
                "method": lift.method,
                "treatment": asdict(lift.treatment),
                "control": asdict(lift.control),
                "result": asdict(lift.result) if lift.result else None,
                "significant": lift.significant,
            }
            for lift in lists.lifts
        ],
        "findings": [
            {"rank": rank, **asdict(f), "distance": f.distance}
            for rank, f in enumerate(insights.ranked, start=1)
        ],
        "suppressed_findings": insights.suppressed,
        "dormant": {
            "days": dormant.days,
            "since": _when(dormant.since),
            "rows": [
                {
                    "kind": r.kind,
                    "category": r.category,
                    "held": r.held,
                    "oldest": _when(r.oldest),
                    "newest": _when(r.newest),
                    "dormant": r.dormant,
                    "proposed": r.proposed,
                    "why": r.why,
                    "read_by": [
                        {
                            "plugin": u.plugin,
                            "purpose": u.purpose,
                            "reader": u.reader,
                            "last_at": _when(u.last_at),
                            "source": u.source,
                        }
                        for u in r.readers
                    ],
                }
                for r in dormant.rows
            ],
        },
    }
