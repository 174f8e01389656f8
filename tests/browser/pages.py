"""Steps that many browser tests take (holds no tests itself)."""

PASSWORD = "correct-horse-battery"


def log_in(page, url, username, password=PASSWORD):
    """Open ``url`` (the login page sends the browser back there) and log in."""
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
