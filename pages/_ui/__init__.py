"""What every page shares, one module per concept; pages use `from pages import _ui as ui` and `ui.name`.

- state:    session-state keys and the sidebar's current choices
- lang:     the chosen language and formatting for people (labels, percentages, periods, escaped text)
- cache:    analytics results cached by store version, settings, scope and filters (`ui.call`)
- session:  login, logout, single sign-on, the gate every run passes, audit recording
- cookie:   the session token in the browser's cookie (read from the request, written by a tiny script)
- setup:    the first administrator account, asked for before an open store's first import
- filters:  the sidebar (language switch, period, lane, units)
- frame:    the page frame (title, CSS) and the start screen of an empty store
- tables:   translated tables, formula-safe downloads, Plotly figures
- figures:  Plotly figures built once per content, shared by the sessions (`ui.figure`)
- overview_data: the overview's cached analytics, also filled ahead by the warm-up (warm.py)
- flags:    the detectors' findings on the user's data
- links:    names that open the person profile
"""

from pages._ui.cache import (
    DATA,
    FULL,
    SETTINGS,
    VISIBLE,
    WHOLE,
    call,
    clear_caches,
    current_scope,
    data,
    facts,
    full_data,
    optional,
    settings,
    snapshot,
    store_identity,
    store_path,
    updating,
)
from pages._ui.figures import figure
from pages._ui.filters import filters_caption, forget_stale_choices, selected_period, sidebar
from pages._ui.flags import all_flags, detector_kinds, flags
from pages._ui.frame import is_empty, page_setup, require_data, start_screen
from pages._ui.lang import default_lang, label, lang, percent, period_text, safe, tr
from pages._ui.links import flag_link_config, person_link_config, with_flag_links, with_person_links
from pages._ui.session import (
    Access,
    account_box,
    audit,
    can_import,
    current_role,
    current_user,
    forget_user_cache,
    gate,
    login,
    logout,
    make_recorder,
    recorder,
    require_role,
    sso_configured,
    sso_provider,
    unprotected_banner,
)
from pages._ui.setup import require_admin_for_import
from pages._ui.state import (
    ALL,
    ANONYMOUS,
    JUST_LOGGED_IN,
    LANE_KEY,
    LANG_KEY,
    LOGGED_OUT,
    MESSAGE_KEY,
    NOTHING,
    PAGES,
    PERIOD_KEY,
    UNITS_KEY,
    USER_KEY,
    filter_key,
    selected_lane,
    selected_units,
)
from pages._ui.tables import MIME, download_bytes, downloads, plot, show_table

__all__ = [name for name in dir() if not name.startswith("_")]
