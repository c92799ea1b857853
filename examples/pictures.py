"""Write the README's pictures: one frame of each synthetic scenario, all four views (colour
beside depth), as examples/pictures/<scenario>.jpg.

    .venv/bin/python examples/pictures.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    out = HERE / "pictures"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("easy", "medium", "hard"):
            rec = Path(tmp) / scenario
            run = [sys.executable, "-m", "disguisor", "-q"]
            subprocess.run(run + ["synth", str(rec), "--scenario", scenario, "--frames", "1"], check=True)
            subprocess.run(run + ["preview", str(rec), "--frame", "0", "--tile-width", "400",
                                  "-o", str(out / f"{scenario}.jpg")], check=True)
            print(f"wrote {out / f'{scenario}.jpg'}")


if __name__ == "__main__":
    main()
