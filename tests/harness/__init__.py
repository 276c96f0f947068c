"""Test harness: a real moto server behind a recording proxy, and throwaway AWS configs."""

from __future__ import annotations

from .moto_stack import ACCOUNT_ID, REGION, Creds, MotoStack, Seed
from .proxy import Call, Fault, StsProxy, aws_error_body

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "Call",
    "Creds",
    "Fault",
    "MotoStack",
    "Seed",
    "StsProxy",
    "aws_error_body",
]
