"""Russian date formats for the back-office: compact numeric dates instead of "1 октября 2026 г. 5:42".

Staff scan long lists of calls and returns; Django's default Russian
DATETIME_FORMAT spells the month out and pushes columns wide.
"""

DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
