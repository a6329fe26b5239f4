"""Rating by keys, like a user: scores, votes, tags and notes, blind mode, battles, the
rating queue and the leaderboard, over scripted models."""

from __future__ import annotations

import json

import pytest
from review_helpers import run, save_session
from textual.widgets import DataTable, Static
from ui_helpers import SIZE, compare_screen, finished, send, wait_for

from workbench.store.blind import shuffled
from workbench.store.leaderboard import leaderboard
from workbench.store.votes import add_vote, collect
from workbench.ui.keys import ACTIONS
from workbench.ui.screens.battle import BattleScreen
from workbench.ui.screens.leaderboard import LeaderboardScreen, interval_bar
from workbench.ui.screens.queue import RatingQueueScreen
from workbench.ui.screens.rating import RatingModal, VoteModal, parse_tags


def ratings(app) -> list[dict]:
    """The ratings of every session file, oldest first."""
    files = sorted(p for p in app.store.root.glob("*.json") if not p.name.startswith("."))
    return [json.loads(p.read_text())["ratings"] for p in files]


def figures_text(pane) -> str:
    return str(pane.query_one(".figures", Static).render())


def choose(tmp_path, *models: str) -> None:
    """The models the picker starts with (as if chosen last time)."""
    (tmp_path / "state.json").write_text(json.dumps({"version": 1, "models": list(models)}))


async def answered(pilot, prompt: str = "Write add") -> None:
    await send(pilot, prompt)
    await wait_for(pilot, lambda: finished(pilot.app))


# -- scores and votes on the compare screen --------------------------------------------------


async def test_number_keys_score_the_focused_answer(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await answered(pilot)
        await pilot.press("f5", "4")
        await wait_for(pilot, lambda: ratings(app)[0]["scores"])
        await pilot.press("right", "2")
        await wait_for(pilot, lambda: len(ratings(app)[0]["scores"]) == 2)
    [saved] = ratings(app)
    assert [(s["model"], s["score"]) for s in saved["scores"]] == [("alpha", 4), ("beta", 2)]
    assert saved["votes"] == []


async def test_an_answer_still_streaming_cannot_be_scored(make_app):
    app = make_app("slow", "beta", "alpha")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await pilot.pause(0.2)
        await pilot.press("f5", "5")  # "slow" is still answering
        await pilot.pause(0.2)
        assert ratings(app)[0]["scores"] == []
        await pilot.press("escape")  # cancel all
        await wait_for(pilot, lambda: finished(app))


async def test_vote_keys_store_the_vote(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await answered(pilot)
        await pilot.press("f5", "B")
        await wait_for(pilot, lambda: ratings(app)[0]["votes"])
        await pilot.press("T")
        await wait_for(pilot, lambda: len(ratings(app)[0]["votes"]) == 2)
    votes = ratings(app)[0]["votes"]
    assert [(v["a"], v["b"], v["outcome"], v["blind"]) for v in votes] == [
        ("alpha", "beta", "b", False),
        ("alpha", "beta", "tie", False),
    ]


async def test_tags_and_a_note_in_the_rating_modal(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await answered(pilot)
        await pilot.press("f5", "right", "t")
        await pilot.pause()
        assert isinstance(app.screen, RatingModal)
        await pilot.press("enter")  # no score yet: it asks for one
        assert isinstance(app.screen, RatingModal)
        await pilot.press("5", "tab", *"py, #fast", "tab", *"good", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RatingModal))
    [score] = ratings(app)[0]["scores"]
    assert (score["model"], score["score"], score["tags"], score["note"]) == (
        "beta",
        5,
        ["py", "fast"],
        "good",
    )


async def test_with_three_answers_the_vote_modal_chooses_the_pair(make_app, tmp_path):
    choose(tmp_path, "alpha", "beta", "gamma")
    app = make_app("alpha", "beta", "gamma")
    async with app.run_test(size=SIZE) as pilot:
        await answered(pilot)
        await pilot.press("f5", "A")
        await pilot.pause()
        assert isinstance(app.screen, VoteModal)
        await pilot.press("down", "b")  # alpha vs gamma: gamma better
        await wait_for(pilot, lambda: ratings(app)[0]["votes"])
    [vote] = ratings(app)[0]["votes"]
    assert (vote["a"], vote["b"], vote["outcome"]) == ("alpha", "gamma", "b")


# -- blind mode ------------------------------------------------------------------------------


async def test_blind_mode_hides_names_and_speed_shuffles_and_the_vote_reveals(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await answered(pilot)
        screen = compare_screen(app)
        deal = screen.deal
        assert deal is not None and deal.order == tuple(shuffled(["alpha", "beta"], deal.seed))
        panes = list(screen.query("AnswerPane"))
        assert tuple(p.model for p in panes) == deal.order  # shown in the dealt order
        assert [p.border_title for p in panes] == ["Model A", "Model B"]
        for pane in panes:
            assert "hidden while blind" in figures_text(pane)
            assert "TTFT" not in figures_text(pane) and pane.model not in figures_text(pane)
        assert "blind" in screen.sub_title
        palette = [c.title for c in app.get_system_commands(screen)]
        assert not any("alpha" in title or "beta" in title for title in palette)

        await pilot.press("f5", "c")  # messages call the answer by its label too
        await pilot.pause()
        assert list(app._notifications)[-1].message.startswith("Copied Model A's answer")
        await pilot.press("f")  # the speed figures anyway, not the conditions
        first = figures_text(panes[0])
        assert "TTFT" in first and "parallel" not in first
        assert panes[0].border_title == "Model A"

        await pilot.press("A")
        await wait_for(pilot, lambda: ratings(app)[0]["votes"])
        assert deal.revealed
        assert [p.border_title for p in panes] == [f"A · {deal.order[0]}", f"B · {deal.order[1]}"]
        assert "parallel" in panes[0].full_figures()  # the conditions: in the details (i)
    [vote] = ratings(app)[0]["votes"]
    assert (vote["a"], vote["b"], vote["outcome"], vote["blind"]) == (*deal.order, "a", True)


async def test_blind_mode_shuffles_four_panes_and_turns_off_again(make_app, tmp_path):
    names = ["alpha", "beta", "gamma", "delta"]
    choose(tmp_path, *names)
    app = make_app(*names)
    async with app.run_test(size=SIZE) as pilot:
        await answered(pilot)
        screen = compare_screen(app)
        assert screen.deal is None
        await pilot.press("ctrl+b")  # answers on screen: dealt now
        await pilot.pause()
        order = tuple(p.model for p in screen.query("AnswerPane"))
        assert order == screen.deal.order == tuple(shuffled(names, screen.deal.seed))
        assert sorted(order) == sorted(names) and list(screen.panes) == list(order)
        assert [p.border_title for p in screen.query("AnswerPane")] == [
            "Model A",
            "Model B",
            "Model C",
            "Model D",
        ]
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert [p.border_title for p in screen.query("AnswerPane")] == list(order)
        assert "TTFT" in figures_text(screen.panes["alpha"])


async def test_an_answer_that_names_its_model_is_flagged(make_app):
    # The scripted "smollm2" answers "smollm2 says hi."; beta's answer names nobody.
    app = make_app("smollm2", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await answered(pilot)
        screen = compare_screen(app)
        named, plain = screen.panes["smollm2"], screen.panes["beta"]
        assert "names itself" in named.border_title
        assert "names itself" not in plain.border_title
        assert screen.disguise.flag(named).words == "smollm2"


# -- battles ---------------------------------------------------------------------------------


async def test_battles_run_two_blind_rounds_and_store_blind_votes(make_app, tmp_path):
    pool = ["alpha", "beta", "gamma"]
    choose(tmp_path, *pool)
    app = make_app(*pool)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")
        await pilot.pause()
        battle = app.screen
        assert isinstance(battle, BattleScreen)

        def done() -> bool:
            return not battle.running and all(not p.active for p in battle.panes.values())

        pairs = []
        for prompt, key in (("first", "A"), ("second", "T")):
            await pilot.press(*prompt, "ctrl+s")
            await wait_for(pilot, done)
            pairs.append(tuple(battle.panes))
            assert [p.border_title for p in battle.panes.values()] == ["Model A", "Model B"]
            assert all("TTFT" not in figures_text(p) for p in battle.panes.values())
            await pilot.press(key)
            await wait_for(pilot, lambda: battle.voted)
            assert battle.deal.revealed
            assert battle.panes[pairs[-1][0]].border_title == f"A · {pairs[-1][0]}"
            assert battle.focused is battle.prompt  # ready for the next prompt
        assert set(pairs[0]) != set(pairs[1])  # the least-played pair comes next
        assert battle.votes == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, BattleScreen)
    votes = [v for r in ratings(app) for v in r["votes"]]
    assert [(v["a"], v["b"], v["outcome"]) for v in votes] == [
        (*pairs[0], "a"),
        (*pairs[1], "tie"),
    ]
    assert all(v["blind"] and v["tags"] == ["battle"] for v in votes)


async def test_battles_need_two_models(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert not isinstance(app.screen, BattleScreen)
        # The key reached the battle action, which said why it did not start (an unbound
        # key would also leave the screen as it was, but silently).
        messages = [n.message for n in app._notifications]
        assert any("Choose two models or more for battles" in m for m in messages), messages


# -- the rating queue ------------------------------------------------------------------------


async def test_the_queue_walks_two_unrated_sessions_to_the_end(make_app):
    app = make_app("alpha", "beta")
    pair = [run("alpha", "Alpha's answer."), run("beta", "Beta's answer.")]
    save_session(app.store, "20261101-100000-aaaaaa", "older", pair)
    save_session(app.store, "20261102-100000-bbbbbb", "newer", pair)
    rated = save_session(app.store, "20261103-100000-cccccc", "rated", pair)
    add_vote(app.store, rated.id, "alpha", "beta", "tie")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f")
        queue = app.screen
        assert isinstance(queue, RatingQueueScreen)
        await wait_for(pilot, lambda: queue.session is not None)
        status = str(queue.query_one("#queue-status", Static).render())
        assert queue.session.prompt == "older" and "session 1 of 2" in status
        await pilot.press("B")  # one vote decides the session
        await wait_for(pilot, lambda: queue.session and queue.session.prompt == "newer")
        assert "session 2 of 2" in str(queue.query_one("#queue-status", Static).render())
        await pilot.press("3")  # a score for each answer decides it too
        await wait_for(pilot, lambda: queue.focused is queue.panes["beta"])
        await pilot.press("5")
        await wait_for(pilot, lambda: queue.done)
        assert "Nothing left to rate: 2 rated" in str(
            queue.query_one("#queue-status", Static).render()
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, RatingQueueScreen)
    older, newer, _ = ratings(app)
    assert [(v["a"], v["b"], v["outcome"]) for v in older["votes"]] == [("alpha", "beta", "b")]
    assert [(s["model"], s["score"]) for s in newer["scores"]] == [("alpha", 3), ("beta", 5)]


async def test_a_queue_of_given_sessions_rates_and_goes_back(make_app):
    app = make_app("alpha", "beta")
    pair = [run("alpha", "a"), run("beta", "b")]
    session = save_session(app.store, "20261101-100000-aaaaaa", "one", pair)
    add_vote(app.store, session.id, "alpha", "beta", "a")  # rated already: still shown
    results = []
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RatingQueueScreen([session.id]), results.append)
        await wait_for(pilot, lambda: getattr(app.screen, "session", None) is not None)
        await pilot.press("N")
        await wait_for(pilot, lambda: results)
    assert results == [1]
    assert [v["outcome"] for v in ratings(app)[0]["votes"]] == ["a", "bad"]


# -- the leaderboard -------------------------------------------------------------------------


def _votes_for_a_leaderboard(store) -> None:
    """top > mid > low, by votes written through votes.add_vote; and a newbie that beat
    top once: rated above it, but one battle ranks nothing (provisional)."""
    runs = [run(m, f"{m} answer") for m in ("low", "mid", "newbie", "top")]
    plan = [("top", "mid", "a")] * 4 + [("mid", "low", "a")] * 4 + [("low", "top", "b")] * 3
    plan += [("top", "mid", "b"), ("mid", "low", "tie"), ("low", "top", "bad")]
    plan += [("newbie", "top", "a")]
    for i, (a, b, outcome) in enumerate(plan):
        session = save_session(store, f"20261110-10{i:04d}-abcdef", f"p{i}", runs)
        add_vote(store, session.id, a, b, outcome)


async def test_the_leaderboard_shows_the_models_in_the_fitted_order(make_app):
    app = make_app("alpha")
    _votes_for_a_leaderboard(app.store)
    votes, scores, _ = collect(app.store)
    expected = [s.model for s in leaderboard(votes, scores, seed=0).standings]
    assert expected == ["top", "mid", "low", "newbie"]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f12")
        board = app.screen
        assert isinstance(board, LeaderboardScreen)
        await wait_for(pilot, lambda: board.board is not None)
        table = board.query_one("#lb-standings", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [row[1] for row in rows] == expected
        assert rows[0][6] == "7-2-0"  # top: W-L-T
        # The newbie is rated above top, yet listed last and not ranked.
        assert [row[0] for row in rows] == ["1", "2", "3", "–"]
        assert rows[3][5] == "1 provisional" and float(rows[3][2]) > float(rows[0][2])
        summary = str(board.query_one("#lb-summary", Static).render())
        assert "15 votes" in summary and "provisional" in summary
        matrix = board.query_one("#lb-matrix", DataTable)
        assert matrix.row_count == 4

        await pilot.press("slash", *"nope", "enter")  # a tag no vote has
        await wait_for(pilot, lambda: board.board is not None and board.board.votes == 0)
        assert table.row_count == 0
        await pilot.press("escape")
        assert not isinstance(app.screen, LeaderboardScreen)


def test_interval_bars_share_one_scale():
    assert interval_bar(900, 1000, 1100, 900, 1100, width=11) == "├────●────┤"
    assert interval_bar(1000, 1040, 1100, 900, 1100, width=11) == "     ├─●──┤"
    assert interval_bar(None, 1000, None, 900, 1100, width=5) == "  ●  "
    assert interval_bar(None, None, None, 0, 0, width=3) == "   "


def test_tags_as_typed():
    assert parse_tags(" py, #fast  py,,refactor ") == ("py", "fast", "refactor")
    assert parse_tags("") == ()


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "with_panes"), [("battle", True), ("queue", True), ("leaderboard", False)]
)
def test_rating_screens_keys_do_not_clash(scope, with_panes):
    scopes = {scope, "app"} | ({"pane"} if with_panes else set())
    keys = [a.key for a in ACTIONS if a.scope in scopes]
    assert len(keys) == len(set(keys))


async def test_battle_actions_are_in_the_palette_of_the_battle_screen(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for action in ACTIONS:
            if action.scope in ("battle", "app"):
                assert action.help in titles


async def test_any_screen_can_push_the_rating_modals_for_a_saved_session(make_app):
    app = make_app("alpha", "beta")
    session = save_session(app.store, "20261101-100000-aaaaaa", "p", [run("alpha", "a")])
    got = []
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RatingModal(app.store, session.id, "alpha"), got.append)
        await pilot.pause()
        await pilot.press("2", "enter")
        await wait_for(pilot, lambda: got)
    assert got[0].kind == "score" and got[0].score == 2
    assert [s["score"] for s in ratings(app)[0]["scores"]] == [2]
