"""`platform/` is a source root, never a package: `import platform` must stay the standard
library's module, in the test process and in a Celery worker."""

import platform
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def test_platform_is_the_standard_library_here() -> None:
    assert Path(platform.__file__).resolve().parent == STDLIB
    assert platform.system() in {"Linux", "Darwin", "Windows"}
    assert "parley" in sys.modules


def test_no_package_named_platform_exists() -> None:
    root = Path(__file__).resolve().parents[3]
    assert not (root / "platform" / "__init__.py").exists()
    assert not (root / "tests" / "platform").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_platform_is_the_standard_library_in_a_celery_worker() -> None:
    from parley.core.tasks import report_runtime

    key = f"runtime-{uuid.uuid4()}"
    report_runtime.delay(key)
    facts = None
    for _ in range(200):  # waiting on another process, bounded
        facts = cache.get(key)
        if facts:
            break
        time.sleep(0.05)
    assert facts is not None, "the worker never answered"
    assert Path(facts["platform_module"]).resolve().parent == STDLIB
    assert facts["system"] == platform.system()
