"""The three roles, as Django groups (admins are also staff)."""

ANNOTATOR = "annotator"
RESEARCHER = "researcher"
ADMIN = "admin"
ROLES = (ANNOTATOR, RESEARCHER, ADMIN)
# Not roles: marks on voters that the model leaderboard reads (the arena sets them).
GUEST = "guest"  # a session-bound arena voter without an account
BOARD_EXCLUDED = "board-excluded"  # an admin left this voter's votes out of the leaderboard (votes kept)


def has_role(user, role):
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()
