"""What an uploaded file is, checked to its end: one module per format family.

`filetypes.sniff` dispatches by the first bytes; each module here parses its format with a
well-kept library (pikepdf, olefile, Pillow, zipfile with a strict reader of our own on top) and
refuses (`common.Refused`) anything active, external or hidden. The shared `Budget` bounds the
cost of one upload: entries, and bytes really inflated, refused by ratio and total before they
are written anywhere.
"""
