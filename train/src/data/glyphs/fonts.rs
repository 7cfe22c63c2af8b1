//! The font faces of the glyph benchmark (DATASETS.md §3.1): each face is one "photo" style.
//!
//! Fonts come from Debian packages; a face is looked for as `$ANGLEGRAD_FONT_DIR/<file>`, then
//! `$ANGLEGRAD_FONT_DIR/<file name>`, then `/usr/share/fonts/<file>`. A missing one is an
//! error naming its package.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// What a face is used for: training, or test style 1..6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Train,
    Test(u8),
}

/// One font face: a file (and the face index inside a `.ttc` collection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FontFace {
    pub id: &'static str,
    pub package: &'static str,
    /// Path under `/usr/share/fonts/`.
    pub file: &'static str,
    /// Face index in the collection (2 = Simplified Chinese in Noto CJK).
    pub index: u32,
    pub role: Role,
}

const fn face(
    id: &'static str,
    package: &'static str,
    file: &'static str,
    index: u32,
    role: Role,
) -> FontFace {
    FontFace {
        id,
        package,
        file,
        index,
        role,
    }
}

/// The 8 training faces, then the 6 test faces in test-face order.
pub const FACES: [FontFace; 14] = [
    face(
        "wqy_microhei",
        "fonts-wqy-microhei",
        "truetype/wqy/wqy-microhei.ttc",
        0,
        Role::Train,
    ),
    face(
        "noto_sans_l",
        "fonts-noto-cjk-extra",
        "opentype/noto/NotoSansCJK-Light.ttc",
        2,
        Role::Train,
    ),
    face(
        "noto_sans_r",
        "fonts-noto-cjk",
        "opentype/noto/NotoSansCJK-Regular.ttc",
        2,
        Role::Train,
    ),
    face(
        "noto_sans_b",
        "fonts-noto-cjk",
        "opentype/noto/NotoSansCJK-Bold.ttc",
        2,
        Role::Train,
    ),
    face(
        "noto_serif_l",
        "fonts-noto-cjk-extra",
        "opentype/noto/NotoSerifCJK-Light.ttc",
        2,
        Role::Train,
    ),
    face(
        "noto_serif_r",
        "fonts-noto-cjk",
        "opentype/noto/NotoSerifCJK-Regular.ttc",
        2,
        Role::Train,
    ),
    face(
        "noto_serif_b",
        "fonts-noto-cjk",
        "opentype/noto/NotoSerifCJK-Bold.ttc",
        2,
        Role::Train,
    ),
    face(
        "smiley",
        "fonts-smiley-sans",
        "truetype/smiley-sans/SmileySans-Oblique.ttf",
        0,
        Role::Train,
    ),
    face(
        "ukai_cn",
        "fonts-arphic-ukai",
        "truetype/arphic/ukai.ttc",
        0,
        Role::Test(1),
    ),
    face(
        "uming_cn",
        "fonts-arphic-uming",
        "truetype/arphic/uming.ttc",
        0,
        Role::Test(2),
    ),
    face(
        "wqy_zenhei",
        "fonts-wqy-zenhei",
        "truetype/wqy/wqy-zenhei.ttc",
        0,
        Role::Test(3),
    ),
    face(
        "wenkai_r",
        "fonts-lxgw-wenkai",
        "truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
        0,
        Role::Test(4),
    ),
    face(
        "hanamin_a",
        "fonts-hanazono",
        "truetype/hanazono/HanaMinA.ttf",
        0,
        Role::Test(5),
    ),
    face(
        "unifont",
        "fonts-unifont",
        "opentype/unifont/unifont.otf",
        0,
        Role::Test(6),
    ),
];

/// The face used to measure look-alike similarity (clean renderings).
pub const SIMILARITY_FACE: &str = "noto_sans_r";

/// The training faces, in order.
pub fn train_faces() -> Vec<FontFace> {
    FACES
        .iter()
        .copied()
        .filter(|f| f.role == Role::Train)
        .collect()
}

/// The test faces, in test-face order (1..6).
pub fn test_faces() -> Vec<FontFace> {
    FACES
        .iter()
        .copied()
        .filter(|f| f.role != Role::Train)
        .collect()
}

impl FontFace {
    /// Where this face's file is, or `None`.
    pub fn locate(&self) -> Option<PathBuf> {
        let mut candidates = Vec::new();
        if let Some(dir) = std::env::var_os("ANGLEGRAD_FONT_DIR") {
            let dir = PathBuf::from(dir);
            candidates.push(dir.join(self.file));
            if let Some(name) = std::path::Path::new(self.file).file_name() {
                candidates.push(dir.join(name));
            }
        }
        candidates.push(PathBuf::from("/usr/share/fonts").join(self.file));
        candidates.into_iter().find(|p| p.is_file())
    }

    /// The font file's bytes, or an error naming the package to install.
    pub fn read(&self) -> Result<Vec<u8>> {
        let path = self.locate().ok_or_else(|| Error::NotInstalled {
            what: format!("CJK font {} ({})", self.id, self.file),
            hint: format!("apt-get install {}", self.package),
        })?;
        std::fs::read(&path).map_err(|e| Error::io(&path, e))
    }
}

/// True when every face of the benchmark is on this machine.
pub fn all_installed() -> bool {
    FACES.iter().all(|f| f.locate().is_some())
}
