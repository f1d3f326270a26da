"""The fourteen boundary cases of issue 12, each in a test named after it.

Each case is the caseload the issue describes; the expected value is worked out by hand from
../shared/DESIGN.md in the comments. The analysis cases are checked in the analysis frames, in
the rendered reports (HTML and PDF, one boundary clinic rendered once) and in what the caseload
review notebook shows (its discussion table and chart specs); the privacy cases in the clinic
report.
"""

from __future__ import annotations

import html as htmllib
import re
from types import SimpleNamespace

import pandas as pd
import pytest
from caseloads import EU, TS, session, steady, typed, weekly
from disclosure_audit import attack_report

from workbook.analysis.clinic import publish_clinic
from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config, parse_config
from workbook.data.errors import ConfigError
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS
from workbook.reports.render import Provenance
from workbook.views import filters

OCT, SEP, NOV = parse_month("2026-10"), parse_month("2026-09"), parse_month("2026-11")
PROVENANCE = Provenance("boundary.csv", "0" * 64, "workbook.yml")
WSAS = {"wsas": {"label": "WSAS", "min": 0, "max": 40, "cutoff": 10}}


def one(frame: pd.DataFrame, **where) -> pd.Series:
    """The single row of `frame` matching every column = value."""
    rows = frame
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, (where, rows)
    return rows.iloc[0]


def reasons(analysis, client: str, therapist: str) -> list[str]:
    rows = analysis.discussion[(analysis.discussion["client_id"] == client)
                               & (analysis.discussion["therapist_id"] == therapist)]
    return list(rows.iloc[0]["reasons"]) if len(rows) else []


# --- the boundary clinic: analysis cases 5-9, 12 and 14 ----------------------------------------


def boundary_records() -> list[dict]:
    rows = []
    # case 5: trust 9, 9, 9 in September, a dip to 4 on Sep 30, then 5s through October
    rows += weekly("R5", "2026-09-09", [9, 9, 9, 4, 5, 5, 5, 5])
    # case 5b: the same dip on Sep 30, repaired on Oct 7
    rows += weekly("W5", "2026-09-09", [9, 9, 9, 5, 9])
    # case 6: one client's trust: Aug 31 2, Sep 15 10, Oct 1 4, Oct 15 10, Nov 10 8
    rows += [session("P6", d, **{TS: v}) for d, v in
             (("2026-08-31", 2), ("2026-09-15", 10), ("2026-10-01", 4), ("2026-10-15", 10),
              ("2026-11-10", 8))]
    # case 7: X with T1 on Oct 1 and 8 (trust 6), with T2 on Oct 15 and 22; PHQ-9 12 -> 19
    rows += [session("X", "2026-10-01", "T1", **{TS: 6, "phq9": 12}),
             session("X", "2026-10-08", "T1", **{TS: 6}),
             session("X", "2026-10-15", "T2", **{TS: 9}),
             session("X", "2026-10-22", "T2", **{TS: 9, "phq9": 19})]
    rows += steady("Y2", "T2", ["2026-10-15"])  # T2 has a client of their own
    # case 8: empathy 6 by the client, 10 by the therapist, other signs equal, two sessions
    for d in ("2026-10-05", "2026-10-12"):
        rows.append(session("G8", d, **{**dict.fromkeys(SIGN_KEYS, 9.0), EU: 6}))
        rows.append(session("G8", d, rater="therapist", **{**dict.fromkeys(SIGN_KEYS, 9.0),
                                                           EU: 10}))
    # case 9 (therapist T9 alone): OLD rates trust 9 in September and October, NEW 5 in October
    rows += [session("OLD", "2026-09-10", "T9", **{TS: 9}),
             session("OLD", "2026-10-10", "T9", **{TS: 9}),
             session("NEW", "2026-10-10", "T9", **{TS: 5})]
    # case 12 (T12): WSAS, an extra measure with a cutoff and no published threshold
    for client, first, last in (("W1", 25, 5), ("W2", 20, 18), ("W3", 30, 29), ("W4", 15, 16)):
        rows += [session(client, "2026-10-02", "T12", **dict.fromkeys(SIGN_KEYS, 9), wsas=first),
                 session(client, "2026-10-23", "T12", **dict.fromkeys(SIGN_KEYS, 9), wsas=last)]
    # case 14: PHQ-9 8 -> 20 -> 8
    rows += [session("D14", d, **{TS: 9, "phq9": v}) for d, v in
             (("2026-10-02", 8), ("2026-10-09", 20), ("2026-10-16", 8))]
    return rows


@pytest.fixture(scope="module")
def boundary(render):
    config = parse_config({"measures": WSAS, "thresholds": {"reliability": 0.8}})
    ratings = typed(boundary_records(), extra_measures=["wsas"])
    clinic = SimpleNamespace(config=config, ratings=ratings,
                             oct=analyse(ratings, config, OCT), sep=analyse(ratings, config, SEP),
                             nov=analyse(ratings, config, NOV))
    cache = {}

    def report(kind: str, therapist: str):
        if (kind, therapist) not in cache:
            cache[kind, therapist] = render(kind, clinic.oct, PROVENANCE, therapist_id=therapist)
        return cache[kind, therapist]

    clinic.report = report
    return clinic


def app_agenda_reasons(analysis, therapist: str, client: str) -> str:
    """The caseload app's agenda row of one client, as the page is sent it."""
    from workbook.views.app_html import agenda_html
    html = agenda_html(analysis.select(therapist_id=therapist).discussion, "client")
    row = html[html.index(f'<tr data-client="{client}"'):]
    return row[:row.index("</tr>")]


def test_case05_rupture_before_the_period_is_unrepaired_in_the_next(boundary):
    sep = one(boundary.sep.ruptures, client_id="R5")
    assert (sep.status, f"{sep.start_date:%m-%d}") == ("open", "09-30")
    octo = one(boundary.oct.ruptures, client_id="R5")  # before the fix: no row in October
    assert octo.status == "unrepaired" and octo.end_date == pd.Timestamp("2026-10-21")
    top = boundary.oct.discussion.set_index("client_id").loc["R5"]
    assert top["top_reason"] == "Possible rupture on trust & safety"
    assert "not repaired" in top["reasons"][0]
    assert "Possible rupture on Trust &amp; safety" in app_agenda_reasons(boundary.oct, "T1",
                                                                           "R5")
    rep = boundary.report("therapist", "T1")
    rupture_rows = [r for r in table_with(rep, "Client", "Sign", "Rater") if r["Client"] == "R5"]
    assert [r["Status"] for r in rupture_rows] == ["not repaired"]
    assert rep.pdf_has("R5") and rep.pdf_has("not repaired")


def test_case05_repair_in_the_next_month_is_a_win(boundary):
    assert one(boundary.sep.ruptures, client_id="W5").status == "open"
    octo = one(boundary.oct.ruptures, client_id="W5")
    assert (octo.status, octo.repair_date) == ("repaired", pd.Timestamp("2026-10-07"))
    win = one(boundary.oct.wins, client_id="W5")
    assert win.kind == "repaired"
    brief = boundary.report("supervision", "T1")
    assert "W5" in brief.html and brief.pdf_has("Possible rupture on Trust & safety (2026-09-30)")


def test_case06_change_is_against_the_previous_calendar_month(boundary):
    octo = one(boundary.oct.signs, client_id="P6", sign=TS, rater="client")
    # October: mean(4, 10) = 7; September: 10 (Aug 31 is not September) -> -3.0
    assert (octo.previous_mean, octo.change) == (10.0, -3.0)
    nov = one(boundary.nov.signs, client_id="P6", sign=TS, rater="client")
    # November: 8; October: 7 -> +1.0 (the previous 30 days gave -2.0, the wrong sign)
    assert (nov.previous_mean, nov.change) == (7.0, 1.0)


def test_case07_handover_findings_go_to_the_therapist_of_the_sessions(boundary):
    a = boundary.oct
    t2 = reasons(a, "X", "T2")
    assert "PHQ-9 reliably worse: 12 → 19" in t2  # the 19 was taken in T2's session
    assert any(r.startswith("Handed over from T1") for r in t2)
    t1 = reasons(a, "X", "T1")
    assert not any("PHQ-9" in r for r in t1)  # T1 never sees the score after the handover
    assert any(r.startswith("Handed over to T2 on 2026-10-15") for r in t1)
    former = a.select(therapist_id="T1")
    assert former.ratings.loc[former.ratings["client_id"] == "X", "session_date"].max() == \
        pd.Timestamp("2026-10-08")
    assert one(former.outcomes, client_id="X").latest_score == 12
    current = a.select(therapist_id="T2")
    assert set(current.ratings.loc[current.ratings["client_id"] == "X", "therapist_id"]) == \
        {"T1", "T2"}  # the whole course, marked
    assert 'data-client="X"' in app_agenda_reasons(a, "T2", "X")
    t1_report, t2_report = boundary.report("therapist", "T1"), boundary.report("therapist", "T2")
    assert t2_report.pdf_has("PHQ-9 reliably worse: 12 → 19")
    assert t2_report.pdf_has("X: handed over from T1")
    assert "12 → 19" not in t1_report.html and not t1_report.pdf_has("12 → 19")
    assert t1_report.pdf_has("Only sessions up to 2026-10-08 are shown")


def test_case08_perspective_gap_is_flagged_per_sign(boundary):
    gap = one(boundary.oct.gaps, client_id="G8", sign=EU)
    assert (gap.mean_gap, bool(gap.flagged)) == (4.0, True)
    pooled = one(boundary.oct.client_gaps, client_id="G8")
    assert pooled.mean_gap == pytest.approx(0.8)  # what was flagged before: nothing at 0.8
    text = ("Therapist rates Empathy & understanding 4.0 points higher than the client on "
            "average (2 paired ratings)")
    assert text in reasons(boundary.oct, "G8", "T1")
    rep = boundary.report("therapist", "T1")
    row = one(pd.DataFrame(table_with(rep, "Client", "Sign", "Paired ratings")), Client="G8")
    assert (row["Sign"], row["Mean gap (therapist − client)"]) == ("Empathy & understanding",
                                                                  "+4.0")
    assert rep.pdf_has(text)


def table_with(rep, *first: str) -> list[dict]:
    """Rows of the first table whose header starts with these cells."""
    for head, rows in rep.tables:
        if head[:len(first)] == list(first):
            return [dict(zip(head, r, strict=True)) for r in rows]
    raise AssertionError(f"no table headed {first}")


def test_case09_brief_compares_the_same_clients(boundary):
    brief = boundary.report("supervision", "T9")
    head, rows = next(t for t in brief.tables if t[0][:1] == ["Sign"])
    trust = dict(zip(head, next(r for r in rows if r[0] == "Trust & safety"), strict=True))
    # OLD: 9 -> 9, the only client in both months; NEW has no September rating
    assert trust["Change, same clients"] == "0.0" and trust["Rated in both periods"] == "1"
    assert trust["Mean client rating"] == "7.0"  # the caseload now: (9 + 5) / 2
    assert "Questions for reflection" not in brief.html  # no client's rating fell
    assert brief.pdf_has("a group's change is the mean of its clients' own changes")


def test_case12_extra_measure_uses_jacobson_truax(boundary):
    w1 = one(boundary.oct.outcomes, client_id="W1", measure="wsas")
    # pre SD of 25, 20, 30, 15 = 6.455; S_diff = sqrt(2) * 6.455 * sqrt(0.2) = 4.082;
    # reliable beyond 1.96 * 4.082 = 8.0 points; 25 -> 5 crosses the cutoff of 10: recovered
    assert w1.change == -20 and w1.category == "recovered"
    assert w1.threshold == pytest.approx(1.959964 * 2 ** 0.5 * 6.454972 * 0.2 ** 0.5, abs=1e-4)
    assert one(boundary.oct.outcomes, client_id="W2", measure="wsas").category == "unchanged"
    rep = boundary.report("therapist", "T12")
    assert rep.pdf_has("WSAS: Jacobson & Truax (1991): clinic pre-treatment SD 6.45 (n = 4)")
    assert rep.pdf_has("a change of more than 8.0 points is reliable")


def test_case12_extra_measure_with_neither_threshold_nor_reliability_is_refused():
    with pytest.raises(ConfigError, match="measure wsas .* no reliable_change .* reliability"):
        parse_config({"measures": WSAS})
    parse_config({"measures": {"wsas": {**WSAS["wsas"], "reliability": 0.85}}})


def test_case14_reliable_worsening_at_any_time_is_reported(boundary):
    d14 = one(boundary.oct.outcomes, client_id="D14", measure="phq9")
    assert d14.category == "unchanged" and bool(d14.worse_in_period)
    assert (d14.worst_score, d14.worst_date) == (20, pd.Timestamp("2026-10-09"))
    text = "PHQ-9 reliably worse during the period: 8 → 20 on 2026-10-09 (latest 8)"
    assert text in reasons(boundary.oct, "D14", "T1")
    first = app_agenda_reasons(boundary.oct, "T1", "D14").split("<li>")[1]
    assert first.startswith("PHQ-9 reliably worse")  # the weightiest reason first
    rep = boundary.report("therapist", "T1")
    assert rep.pdf_has(text) and rep.pdf_has("even when the latest score is back")


# --- case 10: the clinic sign table ------------------------------------------------------------


def test_case10_sign_table_puts_values_under_their_month(render):
    rows = []
    for i in range(12):  # September: ratings of other signs only; October: trust 5
        rows.append(session(f"C{i:02d}", "2026-09-15", **{EU: 9}))
        rows.append(session(f"C{i:02d}", "2026-10-15", **{TS: 5, EU: 9}))
    ratings = typed(rows)
    analysis = analyse(ratings, Config(), OCT)
    rep = render("clinic", analysis, PROVENANCE, ratings=ratings)
    trust = one(pd.DataFrame(rep.table("Sign")), Sign="Trust & safety")
    assert (trust["Sep 2026"], trust["Oct 2026"]) == ("–", "5.0")  # before: Sep 5.0, Oct blank
    assert rep.pdf_has("Trust & safety – 5.0")


# --- case 11: thresholds scale with the rating scale ------------------------------------------


def test_case11_thresholds_scale_with_the_scale():
    seven = parse_config({"scale": {"min": 1, "max": 7}})
    ratings = typed(weekly("A", "2026-10-01", [7, 7, 7, 5]))
    a = analyse(ratings, seven, OCT)
    # 80% up 1-7 is 5.8: a 7 is no concern, a 5 is; the 2-point drop is 0.2 x 6 = 1.2 points
    assert list(a.concerns["score"]) == [5.0]
    assert ("Client ratings below 5.8 still current: Trust & safety (latest 5, mean 6.5)"
            in reasons(a, "A", "T1"))
    assert list(a.ruptures["status"]) == ["open"]  # 7 -> 5 is 2 points: over 1.2 and 1 SD
    hundred = parse_config({"scale": {"min": 0, "max": 100}})
    small_dip = analyse(typed(weekly("A", "2026-10-01", [90, 90, 90, 88])), hundred, OCT)
    assert small_dip.ruptures.empty  # 2 of 100 points is not a rupture (20 points is)
    big_dip = analyse(typed(weekly("A", "2026-10-01", [90, 90, 90, 65])), hundred, OCT)
    assert list(big_dip.ruptures["status"]) == ["open"]


def test_case11_thresholds_outside_the_scale_are_config_errors():
    with pytest.raises(ConfigError, match=r"thresholds.concern_below: 8 does not fit the "
                                          r"rating scale 1–7"):
        parse_config({"scale": {"min": 1, "max": 7}, "thresholds": {"concern_below": 8}})
    with pytest.raises(ConfigError, match=r"rupture.min_drop_points: 12 does not fit"):
        parse_config({"rupture": {"min_drop_points": 12}})


# --- case 13: the notebook's outcome band ------------------------------------------------------


def test_case13_app_band_starts_from_the_clients_first_score(example):
    from workbook.views.app_specs import build_course_specs, build_view_specs
    state = filters.FilterState(therapist_id="T01", clients=("C0009",),
                                start=example.period.start, end=example.period.end)
    mine = example.analysis.select(therapist_id="T01", clients=["C0009"])
    spec = build_view_specs(mine, state, ["outcome:phq9"])["outcome:phq9"]
    course = build_course_specs(mine, "C0009", state)["course:outcome:phq9"]
    assert [r for r in course["datasets"].values() if r and "first" in r[0]][0][0]["first"] == 12
    band = spec["datasets"]["data-0"][0]
    first = one(example.analysis.outcomes, client_id="C0009", measure="phq9")
    assert first.first_score == 12 and first.category == "deteriorated"
    # before: first 18 (the first score inside October), band 12-24
    assert (band["first"], band["low"], band["high"]) == (12.0, 6.0, 18.0)


# --- privacy cases 1-4: the clinic report ------------------------------------------------------


def rated_by_one(render):
    rows = []
    for i in range(11):  # T1 sees 11 clients; only C00 rates (trust 3)
        values = {TS: 3} if i == 0 else {}
        rows.append(session(f"C{i:02d}", "2026-10-06", **values))
        rows.append(session(f"C{i:02d}", "2026-10-06", rater="therapist", **{TS: 9}))
    ratings = typed(rows)
    return render("clinic", analyse(ratings, Config(), OCT), PROVENANCE, ratings=ratings)


def test_case01_means_are_suppressed_by_the_clients_behind_them(render, example_report):
    rep = rated_by_one(render)
    t1 = one(pd.DataFrame(rep.table("Therapist")), Therapist="T1")
    assert (t1["Clients"], t1["Trust & safety"]) == ("11", "<11")  # before: 11 | 3.0
    assert "3.0" not in {cell for _, rows in rep.tables for row in rows for cell in row}
    t03 = one(pd.DataFrame(example_report("clinic").table("Therapist")), Therapist="T03")
    assert t03["Clients"] == "11" and set(list(t03.values)[2:]) == {"<11"}  # means over 10


@pytest.fixture(scope="module")
def small_clinic(render, tmp_path_factory):
    frame = generate_clinic(therapists=1, clients_per_therapist=8, weeks=30, plant=False)
    return _clinic_report(render, frame, tmp_path_factory.mktemp("small"))


def _clinic_report(render, frame, folder, with_analysis: bool = False):
    ratings = load_ratings(write_clinic(frame, folder / "clinic.csv"))
    analysis = analyse(ratings, Config(), OCT)
    rep = render("clinic", analysis, PROVENANCE, ratings=ratings)
    return (rep, analysis) if with_analysis else rep


def test_case02_whole_clinic_figures_are_suppressed(small_clinic):
    rep = small_clinic
    clinic = one(pd.DataFrame(rep.table("Therapist")), Therapist="Clinic")
    assert set(list(clinic.values)[1:]) == {"<11"}  # before: 8.6 9.0 8.7 8.9 8.6
    completeness = {r["Figure"]: r["Value"] for r in rep.table("Figure")}
    assert set(completeness.values()) == {"<11"}  # before: 95%, 99%, ...
    october = [r["Oct 2026"] for r in rep.table("Sign")]
    assert set(october) == {"<11"}
    tiles = {name: value for value, name in re.findall(
        r'<span class="value">(.*?)</span><span class="name">(.*?)</span>', rep.html)}
    assert tiles["clients seen"] == tiles["sessions attended"] == "&lt;11"
    assert not re.search(r"\d+%", rep.text)


def test_case03_complementary_cells_are_marked_and_cannot_be_pinned(render, tmp_path_factory):
    frame = generate_clinic(therapists=3, clients_per_therapist=12, weeks=30, seed=0,
                            plant=False)
    rep, analysis = _clinic_report(render, frame, tmp_path_factory.mktemp("three"), True)
    phq = one(pd.DataFrame(rep.table("Measure")), Measure="PHQ-9")
    # before: 0 | <11 | 11 | 0 | <11 | Total 13, so improved = harmed = 1
    assert list(phq.values)[1:] == ["0", "<11", "hidden", "0", "<11", "13"]
    t02 = one(pd.DataFrame(rep.table("Therapist")), Therapist="T02")
    assert t02["Clients"] == "hidden"  # 11 clients: before printed <11
    assert rep.pdf_has("“hidden”: a figure hidden only to protect another")
    assert attack_report(rep.html, analysis) == []


def test_case04_chart_data_is_rounded_like_the_tables(example, example_report):
    tables = publish_clinic(example.analysis, example.ratings)
    shown = {(r["Sign"], month): cell for r in tables.sign_rows for month, cell in r.items()}
    assert len(tables.chart_months) >= 25
    for r in tables.chart_months.itertuples():  # before: 8.57604166667
        assert f"{r.mean:.1f}" == shown[SIGN_LABELS[r.sign], f"{r.month:%b %Y}"]
        assert r.mean == round(r.mean, 1)
    rep = example_report("clinic")
    text = " ".join(htmllib.unescape(t) for t in re.findall(r'aria-label="([^"]*)"', rep.html))
    assert not re.search(r"\d\.\d\d", text)  # no chart text more precise than the tables
