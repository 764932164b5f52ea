"""Benchmark of the real-data ingest (``analysis ingest``).

Targets: a 300 cities x 25 years yearbook CSV in < 2 s; 3,000 county-level units x 25 years
(aggregated to their prefectures) in < 10 s; the same 300 x 25 panel as a folder of 25 annual
tables (year in the file name) or as a wide workbook (one sheet per indicator, years as columns)
in < 3 s. The peer is a bare ``pandas.read_csv`` of the same
file (no checks, no units, no names): the ratio shows what the checks cost on top of parsing.

Run: ``python benchmarks/bench_ingest.py [--quick]``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import _bench
import numpy as np
import pandas as pd

from analysis import config as paths
from analysis.data import reference, treatments
from analysis.data.cities import read_adcodes
from analysis.data.ingest import ingest_file, report_path, write_atomic
from analysis.data.ingest.names import NameIndex

QUICK = _bench.quick()
YEARS = np.arange(2014, 2024) if QUICK else np.arange(1999, 2024)
N_CITIES, N_COUNTIES = (30, 200) if QUICK else (300, 3000)
REPEAT = 1 if QUICK else 3
HEADER = [
    "城市",
    "年份",
    "货物出口额(万美元)",
    "地区生产总值(万元)",
    "年末总人口(万人)",
    "实际使用外资金额(万美元)",
    "第二产业增加值占GDP比重(%)",
    "互联网宽带接入用户数(万户)",
]


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(city master, treatment table): the pipeline's master when it ran, else built in-process."""
    path = paths.INTERIM / "cities.csv"
    if not path.is_file():
        from analysis.data.build import default_inputs

        return default_inputs()[:2]
    master = pd.read_csv(path, dtype={"city_code": str, "province_code": str})
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    return master, table


def _values(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    n, t = len(names), len(YEARS)
    pop = rng.uniform(20, 900, n)[:, None] * np.ones((1, t))
    return pd.DataFrame(
        {
            HEADER[0]: np.repeat(names, t),
            HEADER[1]: np.tile(YEARS, n),
            HEADER[2]: (rng.lognormal(11, 1.5, (n, t))).round(1).ravel(),
            HEADER[3]: (pop * rng.uniform(2e4, 9e4, (n, t))).round(1).ravel(),
            HEADER[4]: pop.round(2).ravel(),
            HEADER[5]: (rng.lognormal(9, 1.2, (n, t))).round(1).ravel(),
            HEADER[6]: rng.uniform(20, 60, (n, t)).round(2).ravel(),
            HEADER[7]: (pop * rng.uniform(0.05, 0.4, (n, t))).round(3).ravel(),
        }
    )


def _county_names(master: pd.DataFrame, n: int) -> tuple[list[str], list[str]]:
    """(province, name) of county-level units that resolve to a prefecture of the master; names that
    repeat across provinces (鼓楼区) are told apart by the province column, as in a real county file."""
    index = NameIndex.build(master)
    ad = read_adcodes()
    province = dict(
        zip(
            ad["code6"].str[:2][ad["code6"].str[2:] == "0000"],
            ad["name"][ad["code6"].str[2:] == "0000"],
        )
    )
    county = ad[(ad["code6"].str[4:] != "00") & (ad["adcode"].str[6:] == "000000")]
    pairs = county.assign(province=county["code6"].str[:2].map(province))[["province", "name"]]
    pairs = pairs.drop_duplicates(keep=False).sort_values(["province", "name"])
    good = [
        (p, c) for p, c in pairs.itertuples(index=False) if index.match(c, 2015, p).kind == "county"
    ][:n]
    return [p for p, _ in good], [c for _, c in good]


def _time(fn, repeat: int = REPEAT) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _bench(
    label: str, frame: pd.DataFrame, master, table, folder: Path, target: float, xlsx: bool = False
) -> None:
    path = folder / f"{label}.{'xlsx' if xlsx else 'csv'}"
    if xlsx:
        frame.to_excel(path, index=False)
    else:
        path.write_bytes(frame.to_csv(index=False).encode("gb18030"))  # as Chinese Excel saves it
    out = folder / f"{label}_panel.csv"

    def ours():
        result = ingest_file(path, master, table)
        write_atomic({out: result.panel, report_path(out): result.report})

    def peer():
        if xlsx:
            pd.read_excel(path)
        else:
            pd.read_csv(path, encoding="gb18030")

    ours()  # warm caches (county table, name index)
    t_ours, t_peer = _time(ours), _time(peer)
    n_out = len(pd.read_csv(out))
    verdict = "OK" if t_ours < target else "SLOW"
    print(
        f"{label:<34} rows {len(frame):>6} -> panel {n_out:>5}  ours {t_ours:6.2f} s  "
        f"peer {t_peer:6.2f} s  ratio {t_ours / t_peer:5.1f}  target < {target:g} s  {verdict}"
    )


def _bench_many(label: str, write, read_peer, master, table, folder: Path, target: float) -> None:
    """A multi-file or multi-sheet layout: ``write(folder)`` returns the path to ingest."""
    source = write(folder)
    out = folder / "many_panel.csv"

    def ours():
        result = ingest_file(source, master, table)
        write_atomic({out: result.panel, report_path(out): result.report})

    ours()
    t_ours, t_peer = _time(ours), _time(lambda: read_peer(source))
    n_out = len(pd.read_csv(out))
    verdict = "OK" if t_ours < target else "SLOW"
    print(
        f"{label:<34} files/sheets -> panel {n_out:>5}  ours {t_ours:6.2f} s  "
        f"peer {t_peer:6.2f} s  ratio {t_ours / t_peer:5.1f}  target < {target:g} s  {verdict}"
    )


def _annual_folder(frame: pd.DataFrame, folder: Path) -> Path:
    target = folder / "annual"
    target.mkdir()
    for year, part in frame.groupby(HEADER[1]):
        part.drop(columns=HEADER[1]).to_csv(
            target / f"{year}年城市统计年鉴.csv", index=False, encoding="gb18030"
        )
    return target


def _wide_workbook(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "wide.xlsx"
    with pd.ExcelWriter(path) as writer:
        for header in HEADER[2:]:
            wide = frame.pivot(index=HEADER[0], columns=HEADER[1], values=header)
            wide.index.name = "地区"
            wide.to_excel(writer, sheet_name=header.replace("(", "（").replace(")", "）")[:31])
    return path


def main() -> None:
    rng = np.random.default_rng(20240101)
    master, table = _inputs()
    cities = master["city"].iloc[:N_CITIES].tolist()
    provinces, counties = _county_names(master, N_COUNTIES)
    print(
        f"peer = pandas read only; cities {len(cities)}, county-level units {len(counties)}, years {len(YEARS)}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _bench(
            f"{N_CITIES} cities x {len(YEARS)} years (CSV)",
            _values(cities, rng),
            master,
            table,
            folder,
            2.0,
        )
        _bench(
            f"{N_CITIES} cities x {len(YEARS)} years (XLSX)",
            _values(cities, rng),
            master,
            table,
            folder,
            2.0,
            xlsx=True,
        )
        # All county-level units that map to a prefecture (~2,800), topped up to 3,000 units with
        # prefecture rows (whose county rows are then dropped, not double counted).
        extra = master.iloc[: max(N_COUNTIES - len(counties), 0)]
        units = counties + extra["city"].tolist()
        county_frame = _values(units, rng)
        county_frame.insert(
            0, "省份", np.repeat(provinces + extra["province"].tolist(), len(YEARS))
        )
        _bench(
            f"{len(units)} county-like units x {len(YEARS)} years (CSV)",
            county_frame,
            master,
            table,
            folder,
            10.0,
        )
        frame = _values(cities, rng)
        _bench_many(
            f"{N_CITIES} cities: {len(YEARS)} annual CSV (folder)",
            lambda f: _annual_folder(frame, f),
            lambda src: [pd.read_csv(p, encoding="gb18030") for p in sorted(src.iterdir())],
            master,
            table,
            folder,
            3.0,
        )
        _bench_many(
            f"{N_CITIES} cities: wide XLSX, 6 sheets",
            lambda f: _wide_workbook(frame, f),
            lambda src: pd.read_excel(src, sheet_name=None),
            master,
            table,
            folder,
            3.0,
        )


if __name__ == "__main__":
    main()
