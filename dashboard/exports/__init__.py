"""Server-side exports: provenance, file writers (CSV, XLSX, PNG, SVG, PDF) and the inspection binder."""
