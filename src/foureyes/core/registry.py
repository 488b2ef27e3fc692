"""Imports every feature's tables so Base.metadata is complete (Alembic, tests)."""

from __future__ import annotations

from foureyes.core.models import Base


def load_models() -> type[Base]:
    from foureyes.audit import models as _audit  # noqa: F401
    from foureyes.badges import models as _badges  # noqa: F401
    from foureyes.customers import models as _customers  # noqa: F401
    from foureyes.identity import models as _identity  # noqa: F401
    from foureyes.webhooks import models as _webhooks  # noqa: F401
    from foureyes.workflows import models as _workflows  # noqa: F401

    return Base
