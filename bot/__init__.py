"""newsbot: keyword news alerts on Telegram."""

import os

# PTB 22 reports RetryAfter.retry_after as a timedelta only with this set (and warns on
# every 429 without it); set before telegram is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "true")
