"""Images (and, later, videos) as answers and as prompt inputs: checked, stripped, stored.

Every file goes through ``clean_image`` before it is stored: Pillow must open it, it must be
within the size and pixel limits (a decompression bomb is refused), and it is re-encoded from
its pixels alone, so no PNG text chunk, EXIF block, ICC profile or XMP packet that a generator
wrote (a model name, a prompt, a seed) survives. Files go to the ``prefarena_media`` storage
(``settings.STORAGES``: var/media/ or an S3-compatible bucket) under a random name with no
model, prompt or date in it. Nothing here decides who may see a file: that is
``annotation.media_access``."""

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

# Formats we accept and write. Anything else is refused with a sentence; GIF and the like are
# converted to PNG (lossless) rather than kept.
IMAGE_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {ext: ctype for ext, ctype in IMAGE_FORMATS.values()} | {
    "mp4": "video/mp4",
    "webm": "video/webm",
}


@dataclass(frozen=True)
class StoredMedia:
    """What a Response or PromptImage keeps about one stored file."""

    name: str  # the storage name: random, e.g. "i/3f…9a.png"
    sha256: str  # of the stored (stripped) bytes
    width: int
    height: int
    format: str  # "png", "jpg", "webp", "mp4", "webm"
    duration_ms: int | None = None
    size: int = 0


def media_storage():
    return storages["prefarena_media"]


def random_name(kind, ext):
    """A storage name that says nothing: a kind letter, 128 random bits, the extension."""
    return f"{kind}/{secrets.token_hex(16)}.{ext}"


def _open_checked(data):
    """A fully decoded Pillow image from bytes, or a ValueError with a sentence."""
    from PIL import Image, UnidentifiedImageError

    limit = settings.MEDIA_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise ValueError(
            f"The image is {len(data) / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB (MEDIA_MAX_UPLOAD_BYTES)."
        )
    if not data:
        raise ValueError("The file is empty, not an image.")
    max_pixels = settings.MEDIA_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns between the limit and twice it, and raises beyond: both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
            try:
                image = Image.open(io.BytesIO(data))
                if image.width * image.height > max_pixels:
                    raise Image.DecompressionBombError("too many pixels")
                image.load()
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"The image has more than {max_pixels:,} pixels (MEDIA_MAX_PIXELS); "
            "it may be a decompression bomb and was refused."
        ) from None
    except UnidentifiedImageError:
        raise ValueError("The file is not an image Pillow can read (PNG, JPEG or WebP).") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"The image is damaged or truncated: {exc}.") from None
    return image


def clean_image(source):
    """(stripped bytes, format key, width, height) from bytes or a Pillow image.

    The pixels are copied into a fresh image, so no metadata of the original can follow; PNG is
    written without text chunks, JPEG and WebP without EXIF, ICC or XMP. Animated files keep
    their first frame only."""
    from PIL import Image

    image = source if isinstance(source, Image.Image) else _open_checked(bytes(source))
    fmt = (image.format or "PNG").upper()
    if fmt not in IMAGE_FORMATS:
        fmt = "PNG"
    mode = image.mode
    if mode not in ("RGB", "RGBA", "L"):
        mode = "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
    if fmt == "JPEG" and mode == "RGBA":
        mode = "RGB"
    pixels = image.convert(mode)
    fresh = Image.new(mode, pixels.size)
    fresh.paste(pixels)  # a new image: no .info, no EXIF, no text chunks carried over
    out = io.BytesIO()
    if fmt == "JPEG":
        fresh.save(out, format="JPEG", quality=95)
    elif fmt == "WEBP":
        fresh.save(out, format="WEBP", lossless=True)
    else:
        fresh.save(out, format="PNG", optimize=False)
    return out.getvalue(), IMAGE_FORMATS[fmt][0], fresh.width, fresh.height


def store_image(source, kind="i"):
    """Check, strip and store one image; returns ``StoredMedia``. Raises ValueError on bad input
    before anything is written."""
    data, ext, width, height = clean_image(source)
    name = media_storage().save(random_name(kind, ext), ContentFile(data))
    return StoredMedia(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        format=ext,
        size=len(data),
    )


def content_type(name):
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def read_bytes(name):
    with media_storage().open(name, "rb") as handle:
        return handle.read()


def delete_quietly(name):
    """Remove a stored file whose row was not written (nothing half-stored)."""
    try:
        media_storage().delete(name)
    except Exception:  # noqa: BLE001 - best effort; an orphan file is harmless and named randomly
        pass


def attach_prompt_images(prompt, sources):
    """Store input images for a prompt (editing, vision prompts), in order after any it has.
    All are checked before any is stored; a failure stores nothing."""
    from django.db import transaction

    from .models import PromptImage

    cleaned = [clean_image(source) for source in sources]  # ValueError here: nothing written yet
    stored = []
    try:
        with transaction.atomic():
            start = prompt.images.count()
            rows = []
            for offset, (data, ext, width, height) in enumerate(cleaned):
                name = media_storage().save(random_name("p", ext), ContentFile(data))
                stored.append(name)
                rows.append(
                    PromptImage.objects.create(
                        prompt=prompt,
                        position=start + offset,
                        media_name=name,
                        media_sha256=hashlib.sha256(data).hexdigest(),
                        media_width=width,
                        media_height=height,
                        media_format=ext,
                    )
                )
            return rows
    except Exception:
        for name in stored:
            delete_quietly(name)
        raise


def data_url(name):
    """A stored image as a base64 data URL (vision chat, image edits)."""
    import base64

    return f"data:{content_type(name)};base64,{base64.b64encode(read_bytes(name)).decode()}"


def with_images(conversation, images):
    """The conversation with these PromptImages as ``image_url`` parts of its last user turn
    (the OpenAI vision chat shape, which every backend reads through ``user_text_and_images``)."""
    turns = [dict(turn) for turn in conversation]
    for turn in reversed(turns):
        if turn.get("role") == "user":
            text = turn.get("content", "")
            parts = [{"type": "text", "text": text}] if isinstance(text, str) else list(text)
            parts += [
                {"type": "image_url", "image_url": {"url": data_url(image.media_name)}} for image in images
            ]
            turn["content"] = parts
            break
    return turns


def tile(item, label):
    """What a page shows for a media answer or input image: its private URL, kind, size and a neutral
    alt text (a letter, never the model); None for a text answer or one not finished."""
    from django.urls import reverse

    name = getattr(item, "media_name", "")
    if not name:
        return None
    kind = getattr(item, "kind", "image")
    if kind == "text":
        return None
    return {
        "kind": kind,
        "url": reverse("media", args=[name]),
        "width": item.media_width,
        "height": item.media_height,
        "format": item.media_format,
        "alt": label,
    }
