//! The widget's colours from a site's accent colour, in light and dark, with every text and
//! background pair kept at 4.5:1 or more (WCAG AA) whatever colour the site picks: text on the
//! accent is white or black, whichever reads better; links are the accent darkened (light) or
//! lightened (dark) until they read on every background they sit on.
//!
//! The edge works the stylesheet out and serves it with the site's widget settings
//! (`WidgetConfig::theme_css`), so the colour maths (powers, contrast search) is not downloaded
//! by every visitor.

use crate::widget_settings::Rgb;

/// The panel's own backgrounds (`widget/src/widget.css`), light and dark.
const LIGHT_BG: Rgb = Rgb(0xff, 0xff, 0xff);
const LIGHT_SURFACE: Rgb = Rgb(0xf8, 0xfa, 0xfc);
const DARK_BG: Rgb = Rgb(0x18, 0x18, 0x1b);
const DARK_SURFACE: Rgb = Rgb(0x0f, 0x0f, 0x12);
const AA: f64 = 4.5;

/// The colours one scheme takes from the accent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub accent: Rgb,
    pub on_accent: Rgb,
    /// Links and outlined buttons' text, on the panel's backgrounds and on `soft`.
    pub link: Rgb,
    /// Tinted boxes (verification, continue offers).
    pub soft: Rgb,
    pub line: Rgb,
    pub on_soft: Rgb,
}

/// How a colour scheme tints and inks with the accent.
struct Scheme {
    bg: Rgb,
    surface: Rgb,
    /// What links and text on tints move towards until they read: black in light, white in dark.
    ink: Rgb,
    /// How far the tints move from the accent towards the background, and the text on them
    /// from the accent towards `ink`.
    soft: f64,
    line: f64,
    on_soft: f64,
}

const LIGHT: Scheme = Scheme {
    bg: LIGHT_BG,
    surface: LIGHT_SURFACE,
    ink: Rgb::BLACK,
    soft: 0.9,
    line: 0.7,
    on_soft: 0.6,
};
const DARK: Scheme = Scheme {
    bg: DARK_BG,
    surface: DARK_SURFACE,
    ink: Rgb::WHITE,
    soft: 0.8,
    line: 0.5,
    on_soft: 0.8,
};

impl Palette {
    pub fn light(accent: Rgb) -> Palette {
        Palette::in_scheme(accent, &LIGHT)
    }

    pub fn dark(accent: Rgb) -> Palette {
        Palette::in_scheme(accent, &DARK)
    }

    fn in_scheme(accent: Rgb, scheme: &Scheme) -> Palette {
        let soft = accent.mix(scheme.bg, scheme.soft);
        Palette {
            accent,
            on_accent: accent.text_on(),
            link: accent.readable(scheme.ink, &[scheme.bg, scheme.surface, soft], AA),
            soft,
            line: accent.mix(scheme.bg, scheme.line),
            on_soft: accent.mix(scheme.ink, scheme.on_soft).readable(scheme.ink, &[soft], AA),
        }
    }

    fn declarations(&self) -> String {
        let on = self.on_accent.hex();
        format!(
            "--tl-accent:{};--tl-on-accent:{on};--tl-on-accent-muted:{on};--tl-link:{};--tl-accent-soft:{};--tl-accent-line:{};--tl-on-soft:{}",
            self.accent.hex(),
            self.link.hex(),
            self.soft.hex(),
            self.line.hex(),
            self.on_soft.hex()
        )
    }
}

/// A stylesheet that overrides the widget's `widget.css` colours with the site's (built only from parsed
/// colours, so nothing a site stores can inject CSS).
pub fn css(accent: Rgb) -> String {
    format!(
        ".tl-app{{{}}}@media (prefers-color-scheme:dark){{.tl-app{{{}}}}}",
        Palette::light(accent).declarations(),
        Palette::dark(accent).declarations()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_reads_at_4_5_to_1_whatever_the_accent() {
        let mut accents = vec![
            Rgb::WHITE,
            Rgb::BLACK,
            Rgb(0xf5, 0x9e, 0x0b),
            Rgb(0xff, 0xff, 0x00),
            Rgb(0x43, 0x38, 0xca),
        ];
        for r in (0..=255u8).step_by(51) {
            for g in (0..=255u8).step_by(51) {
                for b in (0..=255u8).step_by(51) {
                    accents.push(Rgb(r, g, b));
                }
            }
        }
        for accent in accents {
            for (palette, backgrounds) in [
                (Palette::light(accent), [LIGHT_BG, LIGHT_SURFACE]),
                (Palette::dark(accent), [DARK_BG, DARK_SURFACE]),
            ] {
                let pairs = [
                    (palette.on_accent, palette.accent),
                    (palette.link, backgrounds[0]),
                    (palette.link, backgrounds[1]),
                    (palette.link, palette.soft),
                    (palette.on_soft, palette.soft),
                ];
                for (text, background) in pairs {
                    let ratio = text.contrast(background);
                    assert!(ratio >= AA, "{accent:?}: {text:?} on {background:?} is {ratio:.2}:1");
                }
            }
        }
    }

    #[test]
    fn the_stylesheet_holds_only_colours() {
        let css = css(Rgb(0x0f, 0x76, 0x6e));
        assert!(
            css.starts_with(".tl-app{--tl-accent:#0f766e;--tl-on-accent:#ffffff;"),
            "{css}"
        );
        assert!(css.contains("@media (prefers-color-scheme:dark)"));
        assert!(!css.contains('<') && !css.contains('"'));
    }
}
