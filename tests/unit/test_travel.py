"""The least-distance rule of IMPOSSIBLE_TRAVEL, on the shipped country table."""

from __future__ import annotations

import pytest

from baselines.indicators import IpUse, travel_indicators
from baselines.travel import countries, distance_km, least_distance_km, parse_countries

H = 3600


def test_the_shipped_table_covers_the_world() -> None:
    table = countries()
    assert len(table) >= 200
    for code in ("US", "CA", "DE", "BR", "NG", "VN", "IN", "AU", "ZA", "SG"):
        assert code in table
    assert table["US"].neighbours == {"CA", "MX"}
    # neighbours are symmetric where both countries are in the table
    for c in table.values():
        for n in c.neighbours:
            assert n not in table or c.code in table[n].neighbours, (c.code, n)


def test_neighbours_and_the_same_country_are_adjacent() -> None:
    assert least_distance_km("US", "CA") == 0.0
    assert least_distance_km("de", "FR") == 0.0
    assert least_distance_km("DE", "DE") == 0.0
    assert least_distance_km("US", "XX") is None


def test_other_pairs_are_centres_less_each_extent() -> None:
    table = countries()
    us, de = table["US"], table["DE"]
    centres = distance_km((us.latitude, us.longitude), (de.latitude, de.longitude))
    least = least_distance_km("US", "DE")
    assert least == pytest.approx(centres - us.radius_km - de.radius_km)
    assert 5_000 < least < centres
    # small far-apart countries: close to the distance of their centres
    assert least_distance_km("SG", "LU") == pytest.approx(10_400, rel=0.05)
    assert least_distance_km("GB", "FR") is not None


def _uses(*hops: tuple[int, str, str]) -> list[IpUse]:
    return [IpUse(hour * H, address, country) for hour, address, country in hops]


def test_travel_across_a_border_is_never_impossible() -> None:
    # centres of the US and Canada are ~2,000 km apart: one hour would have been "impossible"
    assert travel_indicators(_uses((0, "a", "US"), (1, "b", "CA")), max_speed_kmh=1000) == []


def test_far_apart_countries_in_an_hour_are_impossible() -> None:
    (found,) = travel_indicators(
        _uses((0, "a", "US"), (1, "b", "DE"), (12, "c", "DE")), max_speed_kmh=1000
    )
    assert found.detail["ImpossibleTravelDetail"] == {
        "StartingIpAddress": "a", "EndingIpAddress": "b", "StartingLocation": "US",
        "EndingLocation": "DE", "HourlyTimeDelta": 1,
    }  # fmt: skip
    # a day later it is a flight
    assert travel_indicators(_uses((0, "a", "US"), (24, "b", "DE")), max_speed_kmh=1000) == []


def test_a_malformed_table_line_names_its_line() -> None:
    with pytest.raises(ValueError, match=r"mine.csv: line 2: "):
        parse_countries("# comment\nUS,38,-97,not-a-number,CA MX\n", "mine.csv")
