"""linkage: a simulator of Thailand's government data exchange (GDX / DOPA Linkage Center)."""

__all__: list[str] = []
