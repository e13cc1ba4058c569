"""MasterMobile: back-office and integration hub (1C, Bitrix24, Walking Warehouse)."""

__version__ = "0.1.0"
