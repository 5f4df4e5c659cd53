"""Running a workshop: sign in (passcode or single sign-on), open and end the session on the
living lab, its join link and QR code, rounds with a timer, the vote limit, the layers on the
presenter screen, and moderation (hide and restore any annotation or comment)."""

from __future__ import annotations

import streamlit as st

from workbench import i18n, mapview
from workbench.access import ROUND_KINDS, Actor
from workbench.errors import WorkbenchError
from workbench.hosting import open_setup, set_first_passcode
from workbench.settings import (
    DEFAULT_ROUND_MINUTES,
    DEFAULT_SESSION_HOURS,
    MAX_GROUP_NAME_CHARS,
    MAX_NAME_CHARS,
    MAX_ROUND_MINUTES,
    MAX_SESSION_HOURS,
    MAX_VOTE_LIMIT,
    MIN_VOTE_LIMIT,
)
from workbench.ui import (
    WORKSPACE_KEY,
    fmt_datetime,
    lang,
    md_escape,
    plain,
    require_lab,
    room_base,
    server_host,
    show_error,
    store,
    t,
    t_md,
)
from workbench.ui.access import (
    LOGIN_KEY,
    auth_configured,
    client,
    current_actor,
    sign_in_as,
    sign_out,
    sso_user,
)
from workbench.ui.live import live_channel
from workbench.workshop import (
    end_round,
    end_session,
    join_url,
    member_url,
    presenter_layer_ids,
    qr_png,
    start_round,
)

s = store()
lab = require_lab()
LANG = lang()
WORKSPACE = st.session_state.get(WORKSPACE_KEY, "")
actor = current_actor(s, lab.id)
st.title(t("workshop.title"))
plain(lab.title, caption=True)


def sign_in_forms() -> None:
    """First set-up (the owner passcode), then the passcode sign-in; single sign-on when the
    deployment configured it."""
    if not s.is_protected():
        st.info(t("workshop.setup_intro"), icon="🔐")
        need_token = not open_setup(server_host())
        if need_token:
            st.caption(t("hosting.token_help"))
        with st.form("workshop_setup_form"):
            first = st.text_input(t("workshop.passcode_new"), type="password")
            again = st.text_input(t("workshop.passcode_again"), type="password")
            token = (
                st.text_input(t("hosting.token"), type="password", key="workshop_setup_token")
                if need_token
                else None
            )
            ok = st.form_submit_button(t("workshop.passcode_set"), type="primary")
        if ok:
            if first != again:
                st.error(t("workshop.error.passcode_mismatch"), icon="⚠️")
                return
            try:
                set_first_passcode(s, first, token, server_host())
                sign_in_as(WORKSPACE, "owner", t("workshop.role.owner"), s.passcode_stamp())
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        return
    st.caption(t("workshop.signin_intro"))
    with st.form("workshop_signin_form"):
        code = st.text_input(t("workshop.passcode"), type="password", key="workshop_passcode")
        name = st.text_input(
            t("workshop.your_name"), max_chars=MAX_GROUP_NAME_CHARS, key="workshop_name"
        )
        ok = st.form_submit_button(t("workshop.signin"), type="primary")
    if ok:
        try:
            who = s.sign_in(code, client(), name)
            # without a name, the person is named by their role
            sign_in_as(
                WORKSPACE, who.role, who.group or t(f"workshop.role.{who.role}"), s.passcode_stamp()
            )
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
    if auth_configured() and sso_user() is None:
        if st.button(t("workshop.sso"), key="workshop_sso"):
            st.login()


def session_panel(me: Actor) -> None:
    session = s.active_session(lab.id)
    if session is None:
        st.subheader(t("workshop.no_session"))
        with st.form("workshop_create_form"):
            title = st.text_input(
                t("workshop.session_title"), value=lab.title[:80], max_chars=MAX_NAME_CHARS
            )
            hours = st.number_input(
                t("workshop.session_hours"), 1, MAX_SESSION_HOURS, DEFAULT_SESSION_HOURS, step=1
            )
            consultation = st.checkbox(t("network.consultation.kind"))
            ok = st.form_submit_button(t("workshop.session_create"), type="primary")
        if ok:
            try:
                s.create_session(
                    lab.id,
                    title,
                    by=me,
                    hours=int(hours),
                    kind="consultation" if consultation else "workshop",
                )
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        return
    st.subheader(t_md("workshop.session_running", title=session.title))
    st.caption(t("workshop.session_until", time=fmt_datetime(session.expires_at)))
    if session.kind == "consultation":
        st.info(t("network.consultation.running"), icon="🤝")
        from workbench.report import consultation_pdf

        st.download_button(
            t("network.consultation.download"),
            consultation_pdf(s.consultation_record(session.id), LANG),
            file_name="peer-consultation.pdf",
            mime="application/pdf",
            key="workshop_consultation_pdf",
        )
    base, reachable = room_base()
    link = join_url(base, s.join_token(session.id), WORKSPACE, LANG)
    if not reachable:
        st.warning(t_md("live.link_this_machine", url=base), icon="⚠️")
    c1, c2 = st.columns([1, 2])
    c1.image(qr_png(link, box_size=6), caption=t("workshop.qr_caption"), width=220)
    c1.markdown(t("live.join.code_caption") + f"\n\n# `{s.join_code(session.id)}`")
    with c2:
        st.markdown("**" + t("workshop.join_link") + "**")
        st.code(link, language=None, wrap_lines=True)
        st.page_link("pages/present.py", label=t("workshop.open_presenter"), icon="🖥️")
        groups = s.session_groups(session.id)
        st.caption(
            md_escape(t("workshop.groups", count=len(groups), names=", ".join(groups) or "—"))
        )
        # who is connected now, and the round's countdown (the live channel, no rerun)
        live_channel(s, lab.id, me, page="workshop", presence=True, timer=True, rerun=False)
        if groups:
            with st.expander(t("hosting.group_device")):
                st.caption(t("hosting.group_device_help"))
                pick = st.selectbox(
                    t("hosting.group_pick"), list(groups), key="workshop_device_group"
                )
                if st.button(t("hosting.group_device_make"), key="workshop_device_make"):
                    try:
                        device = s.add_group_device(session.id, pick, by=me)
                        st.code(
                            member_url(base, device, WORKSPACE, lab.id, LANG),
                            language=None,
                            wrap_lines=True,
                        )
                    except WorkbenchError as exc:
                        show_error(exc)
    rounds_panel(me, session.id)
    st.divider()
    settings_panel(me, session.id)
    with st.expander(t("workshop.session_end")):
        sure = st.checkbox(t("workshop.session_end_sure"), key="workshop_end_sure")
        if st.button(t("workshop.session_end"), disabled=not sure, key="workshop_end"):
            try:
                end_session(s, session.id, by=me, lang=LANG)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)


def round_label(kind: str) -> str:
    return i18n.t(f"workshop.round.{kind}", LANG)


def rounds_panel(me: Actor, session_id: str) -> None:
    st.markdown("### " + t("workshop.rounds"))
    current = s.current_round(session_id)
    try:
        if current is not None:
            # the time left is the live channel's countdown above (the server's clock, as on
            # the presenter view), never a figure frozen when this page was drawn
            status = t(f"workshop.status.{current.status}")
            line = t(
                "workshop.round_now",
                number=current.number,
                kind=round_label(current.kind),
                status=status,
            )
            if current.minutes:
                line += " · " + t("workshop.round_timer", minutes=current.minutes)
            st.markdown(md_escape(line))
            b1, b2, b3 = st.columns(3)
            if current.status == "running" and b1.button(t("workshop.pause"), key="workshop_pause"):
                s.pause_round(session_id, by=me)
                st.rerun()
            if current.status == "paused" and b1.button(
                t("workshop.resume"), key="workshop_resume", type="primary"
            ):
                s.resume_round(session_id, by=me)
                st.rerun()
            if b2.button(t("workshop.round_end"), key="workshop_round_end"):
                end_round(s, session_id, by=me, lang=LANG)
                st.rerun()
            if current.kind == "discuss":
                lock = b3.toggle(
                    t("workshop.lock_edits"),
                    value=current.lock_edits,
                    key=f"workshop_lock_{current.id}",
                )
                if lock != current.lock_edits:
                    s.set_round_lock(session_id, lock, by=me)
                    st.rerun()
        else:
            st.caption(t("workshop.no_round"))
        with st.form("workshop_round_form"):
            c1, c2, c3 = st.columns(3)
            kind = c1.selectbox(
                t("workshop.round_kind"),
                ROUND_KINDS,
                format_func=round_label,
                key="workshop_round_kind",
            )
            minutes = c2.number_input(
                t("workshop.round_minutes"),
                0,
                MAX_ROUND_MINUTES,
                DEFAULT_ROUND_MINUTES,
                step=1,
                key="workshop_round_minutes",
            )
            lock = c3.checkbox(t("workshop.lock_edits"), key="workshop_round_lock")
            start = st.form_submit_button(t("workshop.round_start"), type="primary")
        if start:
            start_round(
                s, session_id, kind, by=me, minutes=int(minutes), lock_edits=lock, lang=LANG
            )
            st.rerun()
    except WorkbenchError as exc:
        show_error(exc)
    done = [r for r in s.list_rounds(session_id) if r.status == "ended"]
    if done:
        with st.expander(t("workshop.rounds_done", count=len(done))):
            names = {snap.id: snap.name for snap in s.list_snapshots(lab.id)}
            for r in done:
                st.caption(
                    md_escape(
                        f"{r.number}. {round_label(r.kind)} · {names.get(r.snapshot_id or '', '—')}"
                    )
                )


def settings_panel(me: Actor, session_id: str) -> None:
    c1, c2 = st.columns(2)
    limit = c1.number_input(
        t("annotate.vote_limit"),
        MIN_VOTE_LIMIT,
        MAX_VOTE_LIMIT,
        value=s.vote_limit(lab.id),
        step=1,
        key="workshop_vote_limit",
    )
    if c1.button(t("annotate.vote_limit_set"), key="workshop_vote_limit_set"):
        try:
            s.set_vote_limit(lab.id, int(limit), by=me)
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
    # the presenter's layers by id, shown by name in this page's language
    names = {x.layer_id: x.name for x in mapview.lab_layers(s, lab.id, lang=LANG)[0] if x.layer_id}
    view = s.lab_setting(lab.id, "workshop_view", {}) or {}
    chosen = presenter_layer_ids(s, lab.id, view)
    chosen = list(names) if chosen is None else [x for x in chosen if x in names]
    shown = c2.multiselect(
        t("workshop.presenter_layers"),
        list(names),
        default=chosen,
        format_func=names.__getitem__,
        key="workshop_presenter_layers",
        placeholder=t("common.choose_options"),
    )
    if shown != chosen or "layers" in view:
        try:
            kept = {k: v for k, v in view.items() if k != "layers"}  # the labels of before
            s.set_lab_setting(lab.id, "workshop_view", {**kept, "layer_ids": shown}, by=me)
        except WorkbenchError as exc:
            show_error(exc)


def moderation_panel(me: Actor) -> None:
    st.markdown("### " + t("workshop.moderation"))
    try:
        live = s.list_annotations(lab.id)
        for a in reversed(live[-50:]):
            c1, c2 = st.columns([5, 1])
            c1.markdown(f"**{md_escape(a.author)}** · {md_escape(a.text[:160])}")
            if c2.button(t("workshop.hide"), key=f"workshop_hide_{a.id}"):
                s.delete_annotation(a.id, name=me.group, by=me)
                st.rerun()
            for c in s.list_comments(a.id):
                d1, d2 = st.columns([5, 1])
                d1.caption(md_escape(f"↳ {c.author}: {c.text[:160]}"))
                if d2.button(t("workshop.hide"), key=f"workshop_hide_c_{c.id}"):
                    s.delete_comment(c.id, by=me)
                    st.rerun()
        hidden = s.list_deleted_annotations(lab.id)
        comments = s.list_hidden_comments(lab.id)
        with st.expander(t("workshop.hidden", count=len(hidden) + len(comments))):
            for a in hidden:
                c1, c2 = st.columns([5, 1])
                c1.markdown(f"**{md_escape(a.author)}** · {md_escape(a.text[:160])}")
                if c2.button(t("workshop.show"), key=f"workshop_show_{a.id}"):
                    s.restore_annotation(a.id, name=me.group, by=me)
                    st.rerun()
            for hc in comments:  # hidden comments: rows, not Comment records
                c1, c2 = st.columns([5, 1])
                c1.caption(md_escape(f"↳ {hc['author']}: {hc['text'][:160]}"))
                if c2.button(t("workshop.show"), key=f"workshop_show_c_{hc['id']}"):
                    s.restore_comment(hc["id"], by=me)
                    st.rerun()
    except WorkbenchError as exc:
        show_error(exc)


def owner_panel(me: Actor) -> None:
    with st.expander(t("workshop.owner_settings")):
        with st.form("workshop_facilitator_code"):
            code = st.text_input(t("workshop.facilitator_passcode"), type="password")
            if st.form_submit_button(t("workshop.passcode_set")):
                try:
                    s.set_passcode("facilitator", code, by=me)
                    st.success(t("workshop.passcode_saved"), icon="✅")
                except WorkbenchError as exc:
                    show_error(exc)
        if auth_configured():
            with st.form("workshop_roles_form"):
                email = st.text_input(t("workshop.sso_email"))
                role = st.selectbox(
                    t("workshop.role_label"),
                    ["facilitator", "participant", "viewer", "owner"],
                    format_func=lambda r: i18n.t(f"workshop.role.{r}", LANG),
                )
                if st.form_submit_button(t("common.save")):
                    try:
                        s.set_member_role(email, role, by=me)
                    except WorkbenchError as exc:
                        show_error(exc)
            for email, role in s.list_member_roles().items():
                st.caption(md_escape(f"{email}: {t(f'workshop.role.{role}')}"))


if actor is None or not actor.may("session.run"):
    sign_in_forms()
    st.stop()
c1, c2 = st.columns([4, 1])
c1.caption(
    md_escape(t("workshop.signed_in", name=actor.group, role=t(f"workshop.role.{actor.role}")))
)
if st.session_state.get(LOGIN_KEY) and c2.button(t("workshop.signout"), key="workshop_signout"):
    sign_out()
    st.rerun()
session_panel(actor)
moderation_panel(actor)
if actor.may("workspace.admin"):
    owner_panel(actor)
