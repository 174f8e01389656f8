"""Push a finished export folder to a Hugging Face Hub dataset repository.

The upload is built locally (the card and every data file, as commit operations) and
sent only when a token is configured; nothing here runs at export time."""

import os
import re
from pathlib import Path

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def hub_upload(export_dir):
    """The commit operations that upload this export: README.md (the card) and data/*."""
    from huggingface_hub import CommitOperationAdd

    root = Path(export_dir)
    card = root / "README.md"
    if not card.is_file():
        raise ValueError(f"{root} is not an export folder: it has no README.md dataset card.")
    files = [card] + sorted(p for p in (root / "data").glob("*") if p.is_file())
    if len(files) == 1:
        raise ValueError(f"{root} has no data files to upload.")
    return [CommitOperationAdd(path_in_repo=str(p.relative_to(root)), path_or_fileobj=str(p)) for p in files]


def push_to_hub(export_dir, repo_id, *, token=None, private=True):
    """Create the dataset repository if needed and upload the export in one commit; returns its URL."""
    from huggingface_hub import HfApi

    if not REPO_ID.match(repo_id or ""):
        raise ValueError(f"{repo_id!r} is not a Hub repository id; use the form owner/name.")
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise ValueError("No Hugging Face token: set HF_TOKEN in the environment to push to the Hub.")
    operations = hub_upload(export_dir)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.create_commit(
        repo_id, operations, repo_type="dataset", commit_message="PrefArena preference export"
    )
    return commit.commit_url
