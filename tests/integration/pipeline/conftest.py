"""The pipeline tests start from files received by the intake core."""

from tests.integration.intake.conftest import intake

__all__ = ["intake"]
