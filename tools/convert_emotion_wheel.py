"""Convert the official MER2025/2026 emotion-wheel tables into ClueLab's shipped JSON (run by hand).

    python tools/convert_emotion_wheel.py [SOURCE_DIR] [--out annotation/evaluation/data/emotion_wheel.json]

SOURCE_DIR holds the MERTools `emotion_wheel/` folder (wheel_mapping.npz and LICENSE). The official scorer
reads its three look-up tables from `wheel_mapping.npz`, whose dicts are pickled; we read them once here
(pickles are only acceptable in this hand-run step, on a file we chose) and ship a plain JSON so nothing at
run time unpickles or reads the source folder. The xlsx sheets are not needed: the npz already holds the
tables the scorer uses, and openpyxl is not a dependency.

The base-word and wheel-word lists are de-duplicated and sorted. That changes no score: the official
scorer only ever uses the alphabetically first entry or scans the entries in sorted order.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "annotation" / "evaluation" / "data"
SOURCE = ("zeroQiaoba/MERTools, commit 89120b7, MER2026/MER2026_Track2/emotion_wheel/wheel_mapping.npz "
          "(format_mapping, raw_mapping, wheel_map_whole)")
LICENCE_NOTE = ("Apache-2.0, copyright the MERTools authors; see EMOTION_WHEEL_LICENSE beside this file. "
                "Converted to JSON by tools/convert_emotion_wheel.py; content unchanged except that lists "
                "are de-duplicated and sorted.")


def _string_lists(table: dict, *, name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, values in table.items():
        if not isinstance(key, str) or not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SystemExit(f"{name}: unexpected entry {key!r}: {values!r}")
        out[key] = sorted(set(values))
    return out


def convert(source: Path) -> dict:
    with np.load(source / "wheel_mapping.npz", allow_pickle=True) as npz:
        format_mapping = _string_lists(npz["format_mapping"].tolist(), name="format_mapping")
        raw_mapping = _string_lists(npz["raw_mapping"].tolist(), name="raw_mapping")
        wheel_map_whole = npz["wheel_map_whole"].tolist()
    wheels = {wheel: {level: {str(k): str(v) for k, v in wheel_map_whole[wheel][level].items()}
                      for level in ("level1", "level2")}
              for wheel in sorted(wheel_map_whole)}
    missing_base = {b for bases in format_mapping.values() for b in bases} - raw_mapping.keys()
    if missing_base:
        raise SystemExit(f"base words without a synonym entry: {sorted(missing_base)[:10]}")
    return {"source": SOURCE, "licence": LICENCE_NOTE, "format_mapping": format_mapping,
            "raw_mapping": raw_mapping, "wheels": wheels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", default=ROOT.parent.parent / "shared" / "emotion-wheel")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "emotion_wheel.json")
    args = parser.parse_args()
    data = convert(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n",
                        encoding="utf-8")
    shutil.copyfile(args.source / "LICENSE", args.out.parent / "EMOTION_WHEEL_LICENSE")
    sizes = {w: {lv: len(m) for lv, m in levels.items()} for w, levels in data["wheels"].items()}
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): {len(data['format_mapping'])} word forms, "
          f"{len(data['raw_mapping'])} base words, wheels {sizes}")


if __name__ == "__main__":
    main()
